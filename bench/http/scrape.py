"""scrape.py -- what a platform and a Prometheus do to the coordinator, for
bench/http.sh: GET /health HEALTH_PER_S times a second and /metrics
METRICS_PER_S times a second, each on one keep-alive connection, evenly
paced, until killed. Prints nothing; exits 1 on a failed request.

    python3 scrape.py PORT HEALTH_PER_S METRICS_PER_S
"""
import http.client
import sys
import time


def main():
    port, health_rate, metrics_rate = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    conns = {"/health": http.client.HTTPConnection("127.0.0.1", port, timeout=5),
             "/metrics": http.client.HTTPConnection("127.0.0.1", port, timeout=5)}
    due = {"/health": time.monotonic(), "/metrics": time.monotonic()}
    gap = {"/health": 1.0 / health_rate, "/metrics": 1.0 / metrics_rate}
    while True:
        path = min(due, key=due.get)
        wait = due[path] - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        conns[path].request("GET", path)
        reply = conns[path].getresponse()
        reply.read()
        if reply.status not in (200, 503):
            sys.exit(1)
        due[path] += gap[path]


if __name__ == "__main__":
    main()
