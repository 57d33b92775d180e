"""`ckrv serve`."""

from __future__ import annotations

from pathlib import Path

import click

from ckrv.paths import default_data_dir


@click.command()
@click.option("--host", help="Address to listen on [default 127.0.0.1].")
@click.option("--port", type=int, help="Port to listen on; 0 picks a free one [default 8420].")
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    envvar="CKRV_DATA_DIR",
    help="Where the database, keys and artifacts live [env CKRV_DATA_DIR; default the "
    "XDG data dir].",
)
@click.option("--public-url", help="URL users reach this server at [default http://HOST:PORT].")
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="TOML config file; unknown keys are an error.",
)
@click.option("--executor", type=click.Choice(["local", "kubernetes"]), help="Where jobs run.")
@click.option(
    "--kubeconfig",
    type=click.Path(exists=True, dir_okay=False),
    help="[--executor kubernetes] kubeconfig of the cluster jobs run in [config: [kubernetes] "
    "kubeconfig; default the in-cluster service account].",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    help="The server's log on stdout: text, or json (one object per line) [config: "
    "log_format; default text].",
)
def serve(
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    public_url: str | None,
    config_file: Path | None,
    executor: str | None,
    kubeconfig: str | None,
    log_format: str | None,
) -> None:
    """Run the ckrv server: API, activation page, dispatcher and workers, in one process.

    \b
    Example:
      ckrv serve --data-dir /srv/ckrv --public-url https://ckrv.example.com
      ckrv serve --config ckrv.toml --executor kubernetes --kubeconfig ~/.kube/config
    """
    from ckrv.server.serving import ServeOptions
    from ckrv.server.serving import serve as run

    run(
        ServeOptions(
            data_dir=data_dir or default_data_dir(),
            config=config_file,
            host=host,
            port=port,
            public_url=public_url,
            executor=executor,
            kubeconfig=kubeconfig,
            log_format=log_format,
        )
    )
