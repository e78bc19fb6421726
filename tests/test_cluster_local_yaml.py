"""cluster-local.yaml (machines you already have, Ray's `local` provider) validates against Ray's own
schema, as Ray's `ray up` prepares it; cluster.yaml stays the cloud variant."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def prepared(name: str, **changes) -> dict:
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = yaml.safe_load((ROOT / name).read_text())
    config.update(changes)
    config = prepare_config(config)
    validate_config(config)  # raises on unknown fields or a wrong shape
    return config


def test_local_provider_variant_is_valid_for_ray_up():
    config = prepared("cluster-local.yaml")
    provider = config["provider"]
    assert provider["type"] == "local" and provider["head_ip"] and len(provider["worker_ips"]) == 2
    # Ray turns the listed machines into one node type, all of them started (no autoscaling on-premises)
    (node_type,) = config["available_node_types"].values()
    assert node_type["min_workers"] == node_type["max_workers"] == len(provider["worker_ips"])
    assert any("raytrain" in cmd for cmd in config["setup_commands"])
    assert any("--head" in cmd for cmd in config["head_start_ray_commands"])
    assert any("$RAY_HEAD_IP" in cmd for cmd in config["worker_start_ray_commands"])
    assert config["file_mounts"] == {"~/raytrain": "."}


def test_local_variant_rejects_an_unknown_field_and_a_missing_head():
    import click
    import jsonschema

    with pytest.raises(jsonschema.ValidationError, match="not_a_ray_field"):
        prepared("cluster-local.yaml", not_a_ray_field=1)
    config = yaml.safe_load((ROOT / "cluster-local.yaml").read_text())
    del config["provider"]["head_ip"]
    with pytest.raises(click.ClickException, match="head_ip"):
        prepared("cluster-local.yaml", provider=config["provider"])


def test_cluster_yaml_stays_the_cloud_variant():
    config = prepared("cluster.yaml")
    assert config["provider"]["type"] == "aws"
    assert config["cluster_name"] != prepared("cluster-local.yaml")["cluster_name"]
