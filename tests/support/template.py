"""template.yaml as the template tests read it: CloudFormation's short tags kept as {tag: value}."""

from __future__ import annotations

from pathlib import Path

import yaml


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader, suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    return {suffix: loader.construct_mapping(node, deep=True)}


_CfnLoader.add_multi_constructor("!", _tag)


def load_template(path: str | Path = "template.yaml") -> dict:
    return yaml.load(Path(path).read_text(), Loader=_CfnLoader)  # noqa: S506 - SafeLoader subclass
