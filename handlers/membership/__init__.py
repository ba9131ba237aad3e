"""Paid membership as members see it: the plans (/premium), subscribing, cancelling
renewal, its terms and help with payments; and as staff see it: /subscribers, /refund."""
