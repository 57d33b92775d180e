"""Who someone is and what they may do.

users.py        users, passwords, tiers and the monthly job quota
tokens.py       access, worker, refresh and API tokens
device_flow.py  the OAuth2 device authorization grant (RFC 8628)
sessions.py     browser sessions of the device-flow activation page
signing_key.py  the Ed25519 key that signs tokens
"""
