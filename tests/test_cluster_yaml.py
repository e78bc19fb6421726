"""cluster.yaml validates against Ray's own schema (offline, no cloud account needed)."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_cluster_yaml_is_valid_for_ray_up():
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((ROOT / "cluster.yaml").read_text()))
    validate_config(config)  # raises on unknown fields or a wrong shape
    assert config["cluster_name"] == "raytrain"
    assert any("raytrain" in cmd for cmd in config["setup_commands"])


def test_ray_schema_rejects_an_unknown_field():
    import pytest
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / "cluster.yaml").read_text())
    config["not_a_ray_field"] = 1
    with pytest.raises(Exception):
        validate_config(prepare_config(config))
