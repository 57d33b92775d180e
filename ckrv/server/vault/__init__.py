"""Credentials and secrets at rest.

store.py             git credentials and agent secrets: validated, sealed, listed by name
crypto.py            AES-256-GCM with the owner and row bound as associated data
master_keys.py       the versioned master keys (key file or environment)
rotation.py          `ckrv admin rotate-key`: re-encrypt everything under a new version
credential_rules.py  whether a credential can work with a repository URL
"""
