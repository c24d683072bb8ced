#!/usr/bin/env python3
"""Load for `vigil serve` (bench/serve_load.sh): N MJPEG viewers and R API
requests per second for D seconds against URL, with a bearer token.
Prints one JSON object: requests made, failures by kind, viewers' bytes and
parts, and the cameras' detect_fps sampled every second."""
import http.client, json, sys, threading, time, urllib.parse

url, token, viewers, rate, duration = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
u = urllib.parse.urlparse(url)
host, port = u.hostname, u.port
hdr = {"Authorization": "Bearer " + token}
stop = time.monotonic() + duration
lock = threading.Lock()
stats = {"api_requests": 0, "api_failures": 0, "api_refused_by_caps": 0, "api_errors": {},
         "viewer_parts": 0, "viewer_bytes": 0, "viewer_failures": 0, "viewers_ended_early": 0}


def count(key, n=1):
    with lock:
        stats[key] += n


def cameras():
    c = http.client.HTTPConnection(host, port, timeout=10)
    c.request("GET", "/api/cameras", headers=hdr)
    r = c.getresponse()
    body = r.read()
    c.close()
    return json.loads(body)["cameras"]


def viewer(name):
    try:
        c = http.client.HTTPConnection(host, port, timeout=15)
        c.request("GET", "/api/cameras/%s/stream.mjpeg?token=%s" % (name, token))
        r = c.getresponse()
        if r.status != 200:
            count("viewer_failures")
            return
        while time.monotonic() < stop:
            b = r.read1(65536) if hasattr(r, "read1") else r.read(65536)
            if not b:
                count("viewers_ended_early")
                return
            with lock:
                stats["viewer_bytes"] += len(b)
                stats["viewer_parts"] += b.count(b"--vigilframe\r\n")
        c.close()
    except Exception:
        count("viewer_failures")


paths = ["/api/cameras", "/api/events?limit=20", "/api/events?camera=cam1&limit=5",
         "/api/cameras/cam2/rules", "/metrics"]


def api_worker(i, per_worker_rate):
    n = 0
    t0 = time.monotonic()
    c = None
    while time.monotonic() < stop:
        due = t0 + n / per_worker_rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        p = paths[(i + n) % len(paths)]
        n += 1
        try:
            if c is None:
                c = http.client.HTTPConnection(host, port, timeout=10)
            c.request("GET", p, headers=hdr)
            r = c.getresponse()
            r.read()
            count("api_requests")
            if r.status in (413, 431, 503):
                count("api_refused_by_caps")
            elif r.status != 200:
                count("api_failures")
                with lock:
                    stats["api_errors"][str(r.status)] = stats["api_errors"].get(str(r.status), 0) + 1
        except Exception as e:
            count("api_requests")
            count("api_failures")
            with lock:
                k = type(e).__name__
                stats["api_errors"][k] = stats["api_errors"].get(k, 0) + 1
            c = None


names = [c["name"] for c in cameras()]
threads = [threading.Thread(target=viewer, args=(names[i % len(names)],)) for i in range(viewers)]
workers = 8 if rate > 0 else 0
threads += [threading.Thread(target=api_worker, args=(i, rate / workers)) for i in range(workers)]
for t in threads:
    t.start()
samples = []
while time.monotonic() < stop:
    time.sleep(1)
    try:
        samples.append({c["name"]: c["detect_fps"] for c in cameras()})
    except Exception:
        pass
for t in threads:
    t.join()
stats["detect_fps_samples"] = samples
print(json.dumps(stats))
