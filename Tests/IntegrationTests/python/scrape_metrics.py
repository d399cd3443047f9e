"""Scrapes ringproxy's /metrics and parses it with prometheus-client's own text parser.

Usage: scrape_metrics.py URL PREFIX
Prints one line per sample whose name starts with PREFIX:
"<sample name> <label=value,... sorted by label> <value>". A malformed exposition makes the
parser raise, and the script exit non-zero.
"""
import sys
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

url, wanted = sys.argv[1], sys.argv[2]
text = urllib.request.urlopen(url, timeout=10).read().decode()
families = list(text_string_to_metric_families(text))
assert any(f.name == "ringproxy_build_info" for f in families), "build info missing"
for family in families:
    for sample in family.samples:
        if sample.name.startswith(wanted):
            labels = ",".join("%s=%s" % kv for kv in sorted(sample.labels.items()))
            print(sample.name, labels or "-", repr(float(sample.value)))
