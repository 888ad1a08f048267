"""Permission, path and port problems: one line saying what is wrong and what to do, nothing lost.

Permissions are taken away for real (chmod). Root ignores file modes and may bind any port,
so under root the command runs through `setpriv` without the capabilities that let it.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli import main
from bot.store import STORE_FILE, Store
from tests.factories import pubmed_item, write_config

# What lets root read, write and bind where a user may not.
PRIVILEGES = ("dac_override", "dac_read_search", "fowner", "net_bind_service")


def litwatch_as_user(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`litwatch ARGS` in a child process with an ordinary user's powers."""
    command = [sys.executable, "-m", "bot", *args]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: file modes cannot be enforced")
        command = [setpriv, "--bounding-set", ",".join(f"-{p}" for p in PRIVILEGES), "--", *command]
    return subprocess.run(command, env={**os.environ, **(env or {})}, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip


def one_line(text: str) -> str:
    assert "Traceback" not in text
    line = text.strip()
    assert line and "\n" not in line, text
    return line


@pytest.fixture
def store_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A data directory holding a store with one item and one subscriber; modes restored after."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    data = tmp_path / "data"
    with Store.open(data) as store:
        store.commit("pm", store.diff([pubmed_item(1)], "pm"))
        store.subscribe("#review")
    yield data
    data.chmod(0o755)


@pytest.mark.parametrize("command", [["status"], ["export"]])
def test_unreadable_data_dir_is_one_line(store_dir: Path, command: list[str]) -> None:
    """status and export on a data directory this user cannot read say so and point at LITWATCH_DATA."""
    before = (store_dir / STORE_FILE).read_bytes()
    store_dir.chmod(0)
    done = litwatch_as_user(*command)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"cannot read data directory {store_dir}" in line and "LITWATCH_DATA" in line
    store_dir.chmod(0o755)
    assert (store_dir / STORE_FILE).read_bytes() == before


@pytest.mark.parametrize("command", [["subscribe", "#journal-club"], ["digest", "--period", "weekly"]])
def test_read_only_data_dir_is_one_line_and_keeps_the_store(store_dir: Path, command: list[str]) -> None:
    """subscribe and digest on a read-only data directory fail in one line; the store is unchanged."""
    before = (store_dir / STORE_FILE).read_bytes()
    store_dir.chmod(stat.S_IRUSR | stat.S_IXUSR | stat.S_IRGRP | stat.S_IXGRP)
    done = litwatch_as_user(*command)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"cannot write to data directory {store_dir}" in line
    assert "write permission" in line and "LITWATCH_DATA" in line
    store_dir.chmod(0o755)
    assert (store_dir / STORE_FILE).read_bytes() == before


def test_read_only_data_dir_still_serves_reads(store_dir: Path) -> None:
    """A read-only data directory still answers status and export: reading needs no write."""
    store_dir.chmod(stat.S_IRUSR | stat.S_IXUSR)
    done = litwatch_as_user("export", "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert "pmid:30000001" in done.stdout


def test_unreadable_store_file_names_permissions_not_corruption(store_dir: Path) -> None:
    """A store file this user may not read is a permissions problem, not a broken file."""
    (store_dir / STORE_FILE).chmod(0)
    done = litwatch_as_user("status")
    (store_dir / STORE_FILE).chmod(0o644)
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert "give this user read access" in line and "backup" not in line


@pytest.mark.parametrize("command", [["status"], ["export"], ["subscribe", "#review"], ["digest"], ["once"]])
def test_data_dir_that_is_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                 capsys: pytest.CaptureFixture[str], command: list[str]) -> None:
    """LITWATCH_DATA naming a file is one line naming it and the variable, and the file is untouched."""
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    target = tmp_path / "notes.txt"
    target.write_text("my notes", encoding="utf-8")
    monkeypatch.setenv("LITWATCH_DATA", str(target))
    assert main(command) == 1
    line = one_line(capsys.readouterr().err)
    assert f"{target} is a file, not a directory" in line and "LITWATCH_DATA" in line
    assert target.read_text(encoding="utf-8") == "my notes"


@pytest.fixture
def serve_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITWATCH_CONFIG", str(write_config(tmp_path)))
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "not-a-real-secret")


def test_serve_port_in_use(serve_env: None, capsys: pytest.CaptureFixture[str]) -> None:
    """serve on a port another server holds says so and how to pick another; the store is released."""
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert main(["serve", "--port", str(port)]) == 1
    line = one_line(capsys.readouterr().err)
    assert f"port {port} is already in use" in line and "--port" in line
    with Store.open(os.environ["LITWATCH_DATA"]):
        pass  # the failed serve let go of the data directory


@pytest.mark.parametrize("port", ["0", "65536", "-1", "http"])
def test_serve_port_out_of_range(serve_env: None, capsys: pytest.CaptureFixture[str], port: str) -> None:
    """A port outside 1-65535 is a usage error (exit 2) naming the value."""
    with pytest.raises(SystemExit) as exited:
        main(["serve", f"--port={port}"])
    assert exited.value.code == 2
    assert f"{port!r} is not a port number (1-65535)" in capsys.readouterr().err


def test_serve_privileged_port(serve_env: None) -> None:
    """A port below the system's unprivileged range says it is privileged and what to use instead."""
    port = 1023
    floor = Path("/proc/sys/net/ipv4/ip_unprivileged_port_start")
    if floor.exists() and int(floor.read_text()) <= port:
        pytest.skip(f"this system lets every user bind port {port}")
    done = litwatch_as_user("serve", "--port", str(port))
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"port {port} is privileged" in line and "--port 3000" in line


def test_a_write_cut_short_keeps_the_old_store(store_dir: Path) -> None:
    """A commit the OS refuses halfway (here a file-size limit, as a full disk would) is one
    line, leaves the old store file whole and no temp file behind."""
    path = store_dir / STORE_FILE
    before = path.read_bytes()

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # get EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(before), len(before)))

    # The limit binds every file the child writes, pytest-cov's data file too: leave coverage out.
    env = {k: v for k, v in os.environ.items() if not k.startswith("COV_CORE_")}
    done = subprocess.run([sys.executable, "-m", "bot", "subscribe", "#journal-club"],
                          env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=limit_file_size, check=False)  # fmt: skip
    assert done.returncode == 1
    line = one_line(done.stderr)
    assert f"cannot write store file {path}: File too large (" in line and "ulimit -f" in line
    assert "not saved" in line
    assert path.read_bytes() == before
    assert not list(store_dir.glob(".litwatch-*.tmp"))
