"""Feed delivery over SFTP, against a real OpenSSH sshd (tests/sshd.py)."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from multichan.config import Secret
from multichan.errors import ChannelFailed, ConfigError, RetriesExhausted
from multichan.feeds import deliver as deliver_module
from multichan.feeds.deliver import deliver, parse_target
from tests.sshd import SshServer, free_port, keygen

FEED = "<?xml version='1.0'?>\n<rss><channel><title>Café €</title></channel></rss>\n".encode()


class FakeSleep:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


@pytest.fixture
def feed(tmp_path: Path) -> Path:
    path = tmp_path / "google.xml"
    path.write_bytes(FEED)
    return path


def settings(sshd: SshServer, remote: str | Path, **extra: Any) -> dict[str, Any]:
    upload = {
        "url": sshd.url(remote),
        "password": None,
        "key_file": str(sshd.user_key),
        "key_passphrase": None,
        "known_hosts": str(sshd.known_hosts),
        "insecure_skip_host_key_check": False,
        "retries": 3,
    }
    upload.update(extra)
    return upload


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_upload_puts_the_exact_bytes_at_the_url(sshd, remote_dir, feed, sleep):
    final = deliver(feed, settings(sshd, remote_dir / "feed.xml"), sleep=sleep)

    assert final == str(remote_dir / "feed.xml")
    assert (remote_dir / "feed.xml").read_bytes() == FEED
    assert names(remote_dir) == ["feed.xml"]
    assert sleep.calls == []


def test_url_ending_in_slash_uses_the_local_file_name(sshd, remote_dir, feed, sleep):
    final = deliver(feed, settings(sshd, f"{remote_dir}/"), sleep=sleep)

    assert final == str(remote_dir / "google.xml")
    assert (remote_dir / "google.xml").read_bytes() == FEED


def test_second_upload_replaces_atomically_and_leaves_no_partial_files(
    sshd, remote_dir, tmp_path, sleep
):
    old, new = b"<old/>" * 300_000, b"<new/>" * 400_000
    local = tmp_path / "feed.xml"
    local.write_bytes(old)
    upload = settings(sshd, remote_dir / "feed.xml")
    deliver(local, upload, sleep=sleep)
    local.write_bytes(new)

    seen: set[bytes] = set()
    done = threading.Event()

    def watch() -> None:  # a consumer reading the feed while it is being replaced
        while not done.is_set():
            seen.add((remote_dir / "feed.xml").read_bytes())

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        deliver(local, upload, sleep=sleep)
    finally:
        done.set()
        watcher.join()

    assert seen <= {old, new}, "a reader saw a half-written feed"
    assert (remote_dir / "feed.xml").read_bytes() == new
    assert names(remote_dir) == ["feed.xml"]


def test_partial_file_left_by_an_interrupted_run_is_cleaned_up(sshd, remote_dir, feed, sleep):
    (remote_dir / ".feed.xml.partial-0badc0de").write_bytes(b"<rss><chan")
    (remote_dir / "other.xml").write_bytes(b"<keep/>")

    deliver(feed, settings(sshd, remote_dir / "feed.xml"), sleep=sleep)

    assert names(remote_dir) == ["feed.xml", "other.xml"]


def test_unknown_host_key_is_refused_with_the_command_to_trust_it(
    sshd, remote_dir, feed, tmp_path, sleep
):
    empty = tmp_path / "known_hosts"
    empty.write_text("")

    with pytest.raises(ChannelFailed) as caught:
        deliver(feed, settings(sshd, remote_dir / "feed.xml", known_hosts=str(empty)), sleep=sleep)

    message = str(caught.value)
    assert f"[127.0.0.1]:{sshd.port}" in message
    assert str(empty) in message
    assert f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}" in message
    assert "SHA256:" in message
    assert caught.value.exit_code == 5
    assert names(remote_dir) == []
    assert sleep.calls == []


def test_missing_known_hosts_file_is_named(sshd, remote_dir, feed, tmp_path, sleep):
    absent = tmp_path / "nowhere" / "known_hosts"
    upload = settings(sshd, remote_dir / "feed.xml", known_hosts=str(absent))

    with pytest.raises(ChannelFailed, match="does not exist"):
        deliver(feed, upload, sleep=sleep)
    assert names(remote_dir) == []


def test_changed_host_key_is_refused(sshd, remote_dir, feed, tmp_path, sleep):
    impostor = keygen(tmp_path / "impostor")
    kind, blob = impostor.with_suffix(".pub").read_text().split()[:2]
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {kind} {blob}\n")

    with pytest.raises(ChannelFailed, match="does NOT match") as caught:
        deliver(feed, settings(sshd, remote_dir / "feed.xml", known_hosts=str(known)), sleep=sleep)

    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}'" in str(caught.value)
    assert names(remote_dir) == []
    assert sleep.calls == []


def test_insecure_skip_host_key_check_uploads_to_an_unknown_host(
    sshd, remote_dir, feed, tmp_path, sleep
):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    upload = settings(
        sshd, remote_dir / "feed.xml", known_hosts=str(empty), insecure_skip_host_key_check=True
    )

    deliver(feed, upload, sleep=sleep)

    assert (remote_dir / "feed.xml").read_bytes() == FEED
    assert empty.read_text() == "", "the user's known_hosts must not be written"


def test_wrong_key_fails_at_once_without_retrying(sshd, remote_dir, feed, tmp_path, sleep):
    stranger = keygen(tmp_path / "stranger")
    started = time.monotonic()

    with pytest.raises(ChannelFailed, match="login as 'root' failed with key") as caught:
        deliver(feed, settings(sshd, remote_dir / "feed.xml", key_file=str(stranger)), sleep=sleep)

    assert time.monotonic() - started < 5
    assert sleep.calls == []
    assert caught.value.exit_code == 5
    assert names(remote_dir) == []


def test_refused_connection_is_retried_with_growing_backoff(feed, sleep):
    port = free_port()  # nothing listens there
    upload = {"url": f"sftp://root@127.0.0.1:{port}/srv/feed.xml", "retries": 3}

    with pytest.raises(RetriesExhausted) as caught:
        deliver(feed, upload, sleep=sleep)

    assert len(sleep.calls) == 3
    assert sleep.calls[0] >= 1
    assert sleep.calls[0] < sleep.calls[1] < sleep.calls[2]
    assert f"sftp://root@127.0.0.1:{port}/srv/feed.xml" in str(caught.value)
    assert "4 attempts" in str(caught.value)
    assert caught.value.exit_code == 6


def test_zero_retries_means_one_attempt(feed, sleep):
    upload = {"url": f"sftp://root@127.0.0.1:{free_port()}/srv/feed.xml", "retries": 0}

    with pytest.raises(RetriesExhausted, match="1 attempts"):
        deliver(feed, upload, sleep=sleep)
    assert sleep.calls == []


def test_silent_server_times_out_and_is_retried(feed, sleep, monkeypatch):
    monkeypatch.setattr(deliver_module, "CONNECT_TIMEOUT", 0.3)
    with socket.socket() as silent:  # accepts connections, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        upload = {"url": f"sftp://root@127.0.0.1:{port}/srv/feed.xml", "retries": 1}

        with pytest.raises(RetriesExhausted, match="2 attempts"):
            deliver(feed, upload, sleep=sleep)
    assert len(sleep.calls) == 1


def test_missing_remote_folder_is_named_and_not_created(sshd, remote_dir, feed, sleep):
    missing = remote_dir / "not" / "there"

    with pytest.raises(ChannelFailed) as caught:
        deliver(feed, settings(sshd, missing / "feed.xml"), sleep=sleep)

    assert str(missing) in str(caught.value)
    assert "does not exist" in str(caught.value)
    assert not (remote_dir / "not").exists()
    assert sleep.calls == []


def test_target_that_is_a_folder_fails_and_leaves_no_partial_file(sshd, remote_dir, feed, sleep):
    (remote_dir / "feed.xml").mkdir()

    with pytest.raises(ChannelFailed):
        deliver(feed, settings(sshd, remote_dir / "feed.xml"), sleep=sleep)

    assert names(remote_dir) == ["feed.xml"]
    assert (remote_dir / "feed.xml").is_dir()


def test_password_never_appears_in_any_message(sshd, remote_dir, feed, monkeypatch, sleep):
    secret = "hunter2-s3cr3t"
    monkeypatch.setenv("SFTP_PASSWORD", secret)
    password = Secret("SFTP_PASSWORD", "channels.yaml:9 channels.google.upload.password")
    messages = []

    # the server takes keys only: a password login is refused
    upload = settings(sshd, remote_dir / "feed.xml", key_file=None, password=password)
    with pytest.raises(ChannelFailed) as refused:
        deliver(feed, upload, sleep=sleep)
    messages.append(str(refused.value))
    assert "login as 'root' failed with password" in messages[-1]

    upload = {"url": f"sftp://root@127.0.0.1:{free_port()}/srv/", "password": password}
    with pytest.raises(RetriesExhausted) as exhausted:
        deliver(feed, upload, sleep=sleep)
    messages.append(str(exhausted.value))

    upload = {"url": f"sftp://root:{secret}@127.0.0.1:{sshd.port}/srv/feed.xml"}
    with pytest.raises(ConfigError) as in_url:
        deliver(feed, upload, sleep=sleep)
    messages.append(str(in_url.value))
    assert "must not contain a password" in messages[-1]

    assert all(secret not in m for m in messages), messages


def test_encrypted_key_needs_its_passphrase(sshd, remote_dir, feed, tmp_path, monkeypatch, sleep):
    passphrase = "correct horse battery"
    key = keygen(tmp_path / "locked", passphrase=passphrase)
    sshd.authorize(key)
    upload = settings(sshd, remote_dir / "feed.xml", key_file=str(key))

    with pytest.raises(ConfigError, match=r"is encrypted: set upload\.key_passphrase"):
        deliver(feed, upload, sleep=sleep)

    monkeypatch.setenv("SFTP_KEY_PASSPHRASE", "wrong horse")
    upload["key_passphrase"] = Secret("SFTP_KEY_PASSPHRASE", "channels.yaml:12")
    with pytest.raises(ConfigError) as wrong:
        deliver(feed, upload, sleep=sleep)
    assert "wrong horse" not in str(wrong.value)

    monkeypatch.setenv("SFTP_KEY_PASSPHRASE", passphrase)
    deliver(feed, upload, sleep=sleep)
    assert (remote_dir / "feed.xml").read_bytes() == FEED


def test_missing_key_file_is_a_config_error(sshd, remote_dir, feed, tmp_path, sleep):
    with pytest.raises(ConfigError, match="does not exist") as caught:
        deliver(feed, settings(sshd, remote_dir / "f.xml", key_file=str(tmp_path / "nokey")))
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://root@example.com/feed.xml", "must look like sftp://"),
        ("sftp:///srv/feed.xml", "must look like sftp://"),
        ("sftp://example.com/srv/feed.xml", "must name the user"),
        ("sftp://root@example.com:99999/srv/feed.xml", "invalid port"),
        ("sftp://root@example.com", "must name the remote file"),
    ],
)
def test_bad_urls_are_config_errors(url, problem, feed, sleep):
    with pytest.raises(ConfigError, match=problem):
        deliver(feed, {"url": url}, sleep=sleep)
    assert sleep.calls == []


def test_url_parsing_defaults():
    target = parse_target("sftp://feeds@sftp.example.com/~/incoming/", "google.xml")
    assert (target.user, target.host, target.port) == ("feeds", "sftp.example.com", 22)
    assert target.path == "incoming/google.xml"
    assert target.host_key_name == "sftp.example.com"
    assert parse_target("sftp://u@h:2222/a%20b.xml", "x").path == "/a b.xml"
