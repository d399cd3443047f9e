"""redis-py's connect-time probes and INFO/CONFIG/CLIENT answers through the proxy, read as a
client would, compared with the redis-servers behind it (ports after the proxy's)."""
import sys

import redis

proxy_port = int(sys.argv[1])
servers = [redis.Redis(port=int(p)) for p in sys.argv[2:]]
r = redis.Redis(port=proxy_port, db=2, client_name="admin-check")

for i in range(30):
    r.set(f"k{i}", "v")
r.set("ttl", "v", ex=1000)

info = r.info()
assert info["arch_bits"] == 64, info.get("arch_bits")
assert info["cluster_enabled"] == 0
assert info["redis_version"] == servers[0].info()["redis_version"]
everything = r.info("all")
assert "cmdstat_set" in everything, sorted(everything)[:20]
assert everything["cmdstat_set"]["calls"] >= 31, everything["cmdstat_set"]
for section in ("server", "clients", "memory", "persistence", "stats", "replication", "cpu", "keyspace"):
    direct = servers[0].info(section)
    mine = r.info(section)
    missing = [k for k in direct if k not in mine and not k.startswith("db") and not k.startswith("slave")]
    assert not missing, (section, missing)

keyspace = r.info("keyspace")
expected = sum(s.info("keyspace").get("db2", {}).get("keys", 0) for s in servers)
assert keyspace["db2"]["keys"] == expected == 31, (keyspace, expected)
assert keyspace["db2"]["expires"] == 1, keyspace

config = r.config_get("*")
direct = servers[0].config_get("*")
assert set(direct) <= set(config), sorted(set(direct) - set(config))[:10]
assert config["maxmemory-policy"] == direct["maxmemory-policy"]
assert r.config_get("databases") == {"databases": "16"}

mine = [c for c in r.client_list() if c["name"] == "admin-check"]
assert len(mine) == 1 and mine[0]["db"] == "2" and mine[0]["cmd"] == "client|list", mine
assert set(mine[0]) == set(servers[0].client_list()[0]), (sorted(mine[0]), sorted(servers[0].client_list()[0]))
assert r.client_info()["name"] == "admin-check"
assert r.client_getname() == "admin-check"
print("redis-py: info() sections, config_get('*'), client_list() and client_info() parse and agree with the servers")
