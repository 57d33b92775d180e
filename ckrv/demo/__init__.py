"""`ckrv demo`'s core: see ckrv.demo.flow. The CLI (ckrv.cli.demo) only parses options."""
