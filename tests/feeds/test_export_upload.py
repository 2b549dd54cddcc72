"""`multichan export` with an `upload:` section, end to end against a real OpenSSH sshd."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.sshd import SshServer, free_port

CONFIG = """
version: 1
shop: {{name: Demo, url: "https://shop.example.com"}}
channels:
  google:
    type: google_merchant
    output: feeds/google.xml
    upload:
      url: {url}
      key_file: {key}
      known_hosts: {known_hosts}
      retries: {retries}
{extra}
"""


def configure(ws: Path, url: str, sshd: SshServer, retries: int = 1, extra: str = "") -> None:
    write_config(
        ws,
        CONFIG.format(
            url=url, key=sshd.user_key, known_hosts=sshd.known_hosts, retries=retries, extra=extra
        ),
    )


def test_export_uploads_the_feed_and_records_where(
    demo: Path, sshd: SshServer, remote_dir: Path
) -> None:
    configure(demo, sshd.url(f"{remote_dir}/"), sshd)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 0, result.output
    remote = remote_dir / "google.xml"
    assert remote.read_bytes() == (demo / "feeds" / "google.xml").read_bytes()
    assert f"uploaded to {remote}" in result.stdout
    history = json.loads(run_cli("-w", demo, "exports", "--json").stdout)
    assert history[0]["uploaded_to"] == str(remote)
    assert [p.name for p in remote_dir.iterdir()] == ["google.xml"]  # no partial files left


def test_failed_upload_keeps_the_local_feed_and_says_so(
    demo: Path, sshd: SshServer, remote_dir: Path
) -> None:
    closed = f"sftp://{sshd.user}@127.0.0.1:{free_port()}{remote_dir}/"
    configure(demo, closed, sshd, retries=0)
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 6, result.output  # still failing after retries
    assert "upload failed" in result.stdout
    assert "the local feed is in place" in result.stdout
    assert (demo / "feeds" / "google.xml").stat().st_size > 10_000
    assert list(remote_dir.iterdir()) == []


def test_unknown_host_key_is_a_channel_failure(
    demo: Path, sshd: SshServer, remote_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    write_config(
        demo,
        CONFIG.format(
            url=sshd.url(f"{remote_dir}/"),
            key=sshd.user_key,
            known_hosts=empty,
            retries=2,
            extra="",
        ),
    )
    result = run_cli("-w", demo, "export", "google")
    assert result.code == 5, result.output
    assert "known_hosts" in result.stdout
    assert list(remote_dir.iterdir()) == []


def test_password_from_env_never_printed(demo: Path, sshd: SshServer, remote_dir: Path) -> None:
    secret = "s3cr3t-Pa55-word"
    write_config(
        demo,
        f"""
version: 1
channels:
  google:
    type: google_merchant
    upload:
      url: {sshd.url(f"{remote_dir}/")}
      password: ${{FEED_SFTP_PASSWORD}}
      known_hosts: {sshd.known_hosts}
      retries: 0
""",
    )
    result = run_cli("-w", demo, "export", "google", "--json", env={"FEED_SFTP_PASSWORD": secret})
    assert result.code == 5, result.output  # password logins are off on the test server
    assert secret not in result.output
    missing = run_cli("-w", demo, "export", "google")
    assert missing.code == 3
    assert "FEED_SFTP_PASSWORD is not set" in missing.output
