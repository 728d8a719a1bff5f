"""findings.py -- what the YAML checkers of the deploy files share: a list
of findings, loading the file as a mapping, and printing the findings as
"FILE: where: message" lines with the exit status (1 when any).
"""
import yaml


class Findings(list):
    def add(self, where, message):
        self.append("%s: %s" % (where, message))


def load_mapping(path, f):
    """The YAML file at path as a dict, or None with a finding."""
    with open(path, encoding="utf-8") as fh:
        doc = yaml.safe_load(fh)
    if not isinstance(doc, dict):
        f.add(path, "not a YAML mapping")
        return None
    return doc


def report(path, f):
    for line in f:
        print("%s: %s" % (path, line))
    return 1 if f else 0
