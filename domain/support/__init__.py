"""The support inbox (在线客服): members write to the business, staff answer."""
