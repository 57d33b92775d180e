"""ckrv: run AI coding-agent jobs on your own server and pull the result back as a diff."""

__version__ = "0.1.0"
