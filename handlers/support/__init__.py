"""The support inbox in chat: members' /support, staff's /tickets, /reply, /close."""
