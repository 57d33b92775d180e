"""Agents bundled with ckrv. Only `example_agent`, a scripted stand-in used by `ckrv demo`."""
