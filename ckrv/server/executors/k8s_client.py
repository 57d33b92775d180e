"""The few Kubernetes API calls the executor makes, through the official client, as plain
JSON dicts (no model round trip on the hot paths). Blocking: callers run these in threads.
The client's exceptions are translated here into KubeError, carrying the HTTP status."""

from __future__ import annotations

import json
from typing import Any

from ckrv.errors import CkrvError, ConfigError
from ckrv.settings import Settings

Obj = dict[str, Any]
FOREGROUND = "Foreground"


class KubeError(CkrvError):
    """A Kubernetes API call failed; `status` is the HTTP status (0 when none came back)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _status_message(exc: Any) -> str:
    try:
        body = json.loads(exc.body or "{}")
        return str(body.get("message") or exc.reason)
    except (TypeError, ValueError):
        return str(getattr(exc, "reason", exc))


class KubeApi:
    def __init__(self, settings: Settings, pool_size: int = 32) -> None:
        from kubernetes import client
        from kubernetes import config as kube_config

        config: Any = kube_config  # the loaders are untyped

        configuration = client.Configuration()
        try:
            if settings.kubernetes_kubeconfig:
                config.load_kube_config(
                    config_file=settings.kubernetes_kubeconfig,
                    context=settings.kubernetes_context or None,
                    client_configuration=configuration,
                )
            else:
                config.load_incluster_config(client_configuration=configuration)
        except (config.ConfigException, OSError) as exc:
            where = settings.kubernetes_kubeconfig or "the in-cluster service account"
            raise ConfigError(
                f"kubernetes: cannot load the cluster configuration from {where}: {exc}",
                hint="pass --kubeconfig or set [kubernetes] kubeconfig (and context) in "
                "the config file, or run the server inside the cluster",
            ) from exc
        configuration.connection_pool_maxsize = pool_size
        self.client = client.ApiClient(configuration)
        self.batch = client.BatchV1Api(self.client)
        self.core = client.CoreV1Api(self.client)
        self.namespace = settings.kubernetes_namespace
        self._exception = client.ApiException

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one API call; a JSON body comes back as a dict, errors as KubeError."""
        import urllib3

        try:
            response = fn(*args, _preload_content=False, _request_timeout=(10, 60), **kwargs)
            data = response.data
        except self._exception as exc:
            raise KubeError(f"kubernetes: {what}: {_status_message(exc)}", exc.status) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(f"kubernetes: {what}: {exc}") from exc
        return data

    def _json(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Obj:
        return json.loads(self._call(what, fn, *args, **kwargs))  # type: ignore[no-any-return]

    # -- Jobs
    def create_job(self, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        return self._json(
            f"create Job {name}", self.batch.create_namespaced_job, self.namespace, body
        )

    def read_job(self, name: str) -> Obj | None:
        try:
            return self._json(
                f"read Job {name}", self.batch.read_namespaced_job, name, self.namespace
            )
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def delete_job(self, name: str) -> bool:
        """Foreground: the Job goes once its pod has; its Secret follows by GC."""
        return self._delete(
            f"delete Job {name}",
            self.batch.delete_namespaced_job,
            name,
            self.namespace,
            propagation_policy=FOREGROUND,
        )

    def _delete(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> bool:
        """True when it was there to delete, False when it was already gone (a 404)."""
        try:
            self._call(what, fn, *args, **kwargs)
            return True
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise

    # -- Secrets
    def create_secret(self, body: Obj) -> Obj:
        name = body["metadata"]["name"]
        return self._json(
            f"create Secret {name}", self.core.create_namespaced_secret, self.namespace, body
        )

    def patch_secret(self, name: str, patch: Obj) -> Obj:
        return self._json(
            f"patch Secret {name}",
            self.core.patch_namespaced_secret,
            name,
            self.namespace,
            patch,
            _content_type="application/merge-patch+json",
        )

    def delete_secret(self, name: str) -> bool:
        return self._delete(
            f"delete Secret {name}", self.core.delete_namespaced_secret, name, self.namespace
        )

    # -- lists, watches and logs
    def _lister(self, plural: str) -> Any:
        return {
            "jobs": self.batch.list_namespaced_job,
            "pods": self.core.list_namespaced_pod,
            "secrets": self.core.list_namespaced_secret,
        }[plural]

    def list(self, plural: str, selector: str) -> tuple[list[Obj], str]:
        """Items and the list's resourceVersion (where a watch picks up)."""
        body = self._json(
            f"list {plural}", self._lister(plural), self.namespace, label_selector=selector
        )
        return body.get("items") or [], str(body["metadata"]["resourceVersion"])

    def watch(self, plural: str, selector: str, resource_version: str, timeout: int) -> Any:
        """The raw streaming response of a watch from `resource_version`."""
        import urllib3

        try:
            return self._lister(plural)(
                self.namespace,
                label_selector=selector,
                watch=True,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=timeout,
                _preload_content=False,
                _request_timeout=(10, timeout + 30),
            )
        except self._exception as exc:
            raise KubeError(
                f"kubernetes: watch {plural}: {_status_message(exc)}", exc.status
            ) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise KubeError(f"kubernetes: watch {plural}: {exc}") from exc

    def read_log(self, pod: str, container: str, previous: bool, tail: int) -> str | None:
        """The last `tail` lines of a container's log; None when there is none to read."""
        try:
            data = self._call(
                f"read log of {pod}",
                self.core.read_namespaced_pod_log,
                pod,
                self.namespace,
                container=container,
                previous=previous,
                tail_lines=tail,
                limit_bytes=256 * 1024,
            )
        except KubeError as exc:
            if exc.status in {400, 404}:
                return None
            raise
        return bytes(data).decode("utf-8", "replace")
