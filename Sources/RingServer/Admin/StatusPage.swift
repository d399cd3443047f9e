// The HTML status page at "/": one self-refreshing row per upstream (state, role, failovers,
// replicas, ring share, rates, p99 latency) and each pool's sentinels; rates computed in
// the page from two readings of /stats. It must never keep history on the server or load
// external assets.

import RingConfig
import RingCore

extension AdminServer {
    /// Each server's share of the ring's hash space (ketama) or of the slots (modula).
    func ringShares(pool: PoolConfig) -> [Double] {
        let ring = pool.placement().ring
        var share = [Double](repeating: 0, count: pool.servers.count)
        guard !ring.owners.isEmpty else { return share }
        if ring.distribution == .ketama {
            // A point owns the hashes from the previous point (exclusive) up to itself.
            var previous = UInt64(ring.values.last!)
            for (i, v) in ring.values.enumerated() {
                let span = (UInt64(v) &+ (1 << 32) &- previous) & 0xFFFF_FFFF
                share[Int(ring.owners[i])] += Double(span == 0 && ring.values.count == 1 ? 1 << 32 : span) / 4294967296.0
                previous = UInt64(v)
            }
        } else {
            for o in ring.owners { share[Int(o)] += 1 / Double(ring.owners.count) }
        }
        return share
    }

    func statusPage() -> String {
        var shares: [String] = []
        for pool in config.pools {
            let s = ringShares(pool: pool)
            shares.append("\(AdminServer.jsonString(pool.name)):{" + pool.servers.enumerated().map {
                "\(AdminServer.jsonString($0.element.displayName)):\(s[$0.offset])"
            }.joined(separator: ",") + "}")
        }
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>ringproxy status</title>
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <style>
        body{font:15px/1.4 system-ui,sans-serif;margin:24px;color:#1d2330;background:#f7f8fa}
        h1{font-size:20px;margin:0 0 4px} .meta{color:#5b6475;margin-bottom:16px}
        table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002;margin-bottom:20px}
        th,td{padding:8px 12px;text-align:right;border-bottom:1px solid #e6e8ec;white-space:nowrap}
        th{background:#eef0f4;font-weight:600} td:first-child,th:first-child,td:nth-child(2),th:nth-child(2){text-align:left}
        .up{color:#0a7a32;font-weight:600} .down{color:#c62828;font-weight:600} h2{font-size:16px;margin:18px 0 6px}
        </style></head><body>
        <h1>ringproxy</h1><div class="meta" id="meta">loading…</div><div id="pools"></div>
        <script>
        const shares = {\(shares.joined(separator: ","))};
        let last = null;
        function fmtAge(s){ if(!s) return "start"; const d=Math.max(0,Date.now()/1000-s);
          return d<90?Math.round(d)+" s ago":d<5400?Math.round(d/60)+" min ago":Math.round(d/3600)+" h ago"; }
        async function refresh(){
          let st; try { st = await (await fetch("/stats",{cache:"no-store"})).json(); } catch(e){ return; }
          const now = Date.now()/1000;
          document.getElementById("meta").textContent = "version "+st.version+" · "+st.source+" · up "+st.uptime+" s · "+new Date().toLocaleTimeString();
          let html = "";
          for (const [pool, p] of Object.entries(st)) {
            if (typeof p !== "object") continue;
            html += "<h2>pool "+pool+" · "+p.client_connections+" clients</h2>";
            if (p.sentinels) html += "<div class='meta' id='sentinels-"+pool+"'>sentinels: "+Object.entries(p.sentinels).map(([a, st]) => a+" <span class='"+st+"'>"+st+"</span>").join(" · ")+"</div>";
            html += "<table><tr><th>upstream</th><th>state</th><th>since</th><th>role</th><th>failovers</th><th>ring share</th><th>req/s</th><th>errors/s</th><th>p99 ms</th><th>requests</th></tr>";
            for (const [name, s] of Object.entries(p)) {
              if (typeof s !== "object" || !s.latency_us) continue;
              const prev = last && last[pool] && last[pool][name]; const dt = last ? now-last.t : 0;
              const errs = s.server_err+s.server_eof+s.server_timedout;
              const rate = prev&&dt>0 ? ((s.requests-prev.requests)/dt).toFixed(0) : "–";
              const erate = prev&&dt>0 ? ((errs-prev.errs)/dt).toFixed(1) : "–";
              html += "<tr class='row' data-upstream='"+name+"'><td>"+name+" <small>"+s.address+"</small>"+(s.replicas?"<br><small class='replicas'>replicas: "+Object.entries(s.replicas).map(([a, r]) => a+" <span class='"+(r.usable?"up":"down")+"'>"+(r.usable?"read from":"not read from")+"</span> "+r.requests+" req").join(" · ")+"</small>":"")+"</td><td class='"+s.state+"'>"+s.state+(s.state_reason&&s.state==="down"?" ("+s.state_reason+")":"")+"</td><td>"+fmtAge(s.state_since)+"</td><td class='role'>"+s.role+"</td><td class='failovers'>"+s.failovers+"</td><td>"+(100*((shares[pool]||{})[name]||0)).toFixed(1)+" %</td><td>"+rate+"</td><td>"+erate+"</td><td>"+(s.latency_us.p99/1000).toFixed(2)+"</td><td>"+s.requests+"</td></tr>";
            }
            html += "</table>";
          }
          document.getElementById("pools").innerHTML = html;
          const snap = {t: now};
          for (const [pool, p] of Object.entries(st)) { if (typeof p !== "object") continue; snap[pool] = {};
            for (const [name, s] of Object.entries(p)) if (typeof s === "object" && s.latency_us) snap[pool][name] = {requests: s.requests, errs: s.server_err+s.server_eof+s.server_timedout}; }
          last = snap;
        }
        refresh(); setInterval(refresh, 2000);
        </script></body></html>

        """
    }
}
