#!/usr/bin/env python3
"""Issue 8 part B acceptance figures, measured on the release binary over
loopback (plain HTTP: TLS does not change what is measured here).

  bench/hardening-store.sh [runs]     (builds, then runs this; default 3)

Scenarios, each run `runs` times on a fresh agent; prints one JSON line per
run and the medians:
  dead_letters  one 16 KB gzip body of 8 M bad lines: dead-letter growth and
                RSS growth (peak VmHWM minus VmRSS before); also 8 at once
  long_ids      1,500 events with 1 MiB log_ids: VmRSS once all are written
  second_agent  a second agent on the same spool: exit code and seconds
  tmpfs_flood   spool on a 20 MiB tmpfs flooded for 30 s by 8 clients:
                statuses, Retry-After on every 503, seconds to accept again
                after a ballast file is removed, acknowledged events missing
                from the output (needs root for mount; skipped otherwise).
                Its output (every event, to check none is missing) takes
                about 5 GB per run under $TMPDIR: check the free space.

Each agent's admin listener gets its own free port (`/metrics` is there).
"""

import atexit
import concurrent.futures
import gzip
import http.client
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BIN = sys.argv[1]
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 3
TOKEN = "bench-token"
MiB = 1024 * 1024
# Every agent started, killed at exit whatever happened (a failed scenario
# must not leave one running).
STARTED = []
atexit.register(lambda: [process.kill() for process in STARTED if process.poll() is None])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Agent:
    def __init__(self, work, spool=None, extra_webhook="", extra_spool=""):
        self.work = work
        self.port = free_port()
        self.admin_port = free_port()
        self.spool = spool or os.path.join(work, "spool")
        self.out = os.path.join(work, "out")
        self.config = os.path.join(work, f"agent-{self.port}.toml")
        with open(self.config, "w") as f:
            f.write(
                f'[webhook]\nlisten = "127.0.0.1:{self.port}"\ntokens = ["{TOKEN}"]\n{extra_webhook}'
                f'[spool]\ndir = "{self.spool}"\n{extra_spool}'
                f'[output.file]\ndir = "{self.out}"\nmax_file_bytes = "256MiB"\n'
                f'[enrich]\ngeoip_city = ""\ngeoip_asn = ""\nuser_agent = "woothee"\n'
                f'[log]\nformat = "json"\nlevel = "warn"\n'
                f'[admin]\nlisten = "127.0.0.1:{self.admin_port}"\n'
            )
        self.stderr = open(os.path.join(work, f"agent-{self.port}.log"), "wb")

    def start(self, wait=True):
        self.process = subprocess.Popen(
            [BIN, "run", "--config", self.config],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr)
        STARTED.append(self.process)
        if wait:
            for _ in range(200):
                try:
                    if self.get("/healthz")[0] == 200:
                        return self
                except OSError:
                    pass
                time.sleep(0.05)
            raise RuntimeError("agent did not start")
        return self

    def request(self, method, path, body=None, headers=None, timeout=120, port=None):
        connection = http.client.HTTPConnection("127.0.0.1", port or self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def get(self, path):
        return self.request("GET", path)

    def post(self, body, headers=None):
        all_headers = {"Authorization": TOKEN, "Content-Type": "application/x-ndjson"}
        all_headers.update(headers or {})
        return self.request("POST", "/auth0/logs", body, all_headers)

    def metric(self, series):
        text = self.request("GET", "/metrics", port=self.admin_port)[2].decode()
        for line in text.splitlines():
            if line.startswith(series + " "):
                return int(line.split()[-1])
        raise KeyError(series)

    def status(self, key):
        with open(f"/proc/{self.process.pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
        raise KeyError(key)

    def stop(self):
        self.process.terminate()
        code = self.process.wait(60)
        self.stderr.close()
        return code


def event(log_id, n=0):
    return json.dumps({"log_id": log_id, "data": {
        "date": "2026-11-21T10:00:00.120Z", "type": "s", "description": "Successful login",
        "connection": "Username-Password-Authentication", "client_name": "Demo App",
        "ip": "81.2.69.143", "user_agent": "Chrome 120.0.0 / Mac OS X 10.15.7",
        "user_name": f"user{n}@example.com", "log_id": log_id}})


def dead_letter_bytes(spool):
    return sum(os.path.getsize(os.path.join(spool, name)) for name in os.listdir(spool)
               if name.startswith("dead-letter.ndjson"))


def scenario_dead_letters(work):
    agent = Agent(work).start()
    time.sleep(1)
    rss_before = agent.status("VmRSS")
    dead_before = dead_letter_bytes(agent.spool)
    body = gzip.compress(b"x\n" * (8 * 1000 * 1000), 9)
    started = time.time()
    status, _, answer = agent.post(body, {"Content-Encoding": "gzip"})
    seconds = time.time() - started
    result = {
        "gzip_bytes": len(body), "status": status, "answer": json.loads(answer),
        "seconds": round(seconds, 2),
        "dead_letter_growth_mib": round((dead_letter_bytes(agent.spool) - dead_before) / MiB, 3),
        "rss_growth_mib": round((agent.status("VmHWM") - rss_before) / MiB, 1),
    }
    # Eight at once (the issue measured 12.3 GB RSS).
    rss_before = agent.status("VmRSS")
    dead_before = dead_letter_bytes(agent.spool)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: agent.post(body, {"Content-Encoding": "gzip"})[0], range(8)))
    result["eight_at_once"] = {
        "statuses": statuses,
        "dead_letter_growth_mib": round((dead_letter_bytes(agent.spool) - dead_before) / MiB, 3),
        "peak_rss_mib": round(agent.status("VmHWM") / MiB, 1),
        "rss_before_mib": round(rss_before / MiB, 1),
    }
    result["exit"] = agent.stop()
    return result


def scenario_long_ids(work):
    agent = Agent(work).start()
    time.sleep(1)
    rss_before = agent.status("VmRSS")
    statuses = []
    # 5 events a request: each holds its log_id twice (envelope and data),
    # so a request is ~10 MiB, within the default 16 MiB body limit.
    for request in range(300):
        lines = []
        for k in range(5):
            n = request * 5 + k
            # Zero-padded on the left: distinct for distinct n.
            log_id = str(n).rjust(MiB, "0")
            lines.append(event(log_id, n))
        statuses.append(agent.post("\n".join(lines).encode())[0])
    deadline = time.time() + 300
    while time.time() < deadline:
        if agent.metric('auth0_ingest_documents_written_total{output="file"}') >= 1500:
            break
        time.sleep(0.2)
    written = agent.metric('auth0_ingest_documents_written_total{output="file"}')
    time.sleep(2)
    result = {
        "statuses_ok": statuses.count(200), "written": written,
        "rss_before_mib": round(rss_before / MiB, 1),
        "rss_after_written_mib": round(agent.status("VmRSS") / MiB, 1),
        "peak_rss_mib": round(agent.status("VmHWM") / MiB, 1),
    }
    result["exit"] = agent.stop()
    return result


def scenario_second_agent(work):
    first = Agent(work).start()
    first.post("\n".join(event(f"9002026112110000{n:040}", n) for n in range(100)).encode())
    second = Agent(work)  # same spool, own port
    started = time.time()
    second.start(wait=False)
    code = second.process.wait(30)
    seconds = time.time() - started
    second.stderr.close()
    message = open(second.stderr.name).read()
    after = first.post("\n".join(event(f"9002026112110001{n:040}", n) for n in range(100)).encode())[0]
    deadline = time.time() + 60
    while time.time() < deadline and first.metric('auth0_ingest_documents_written_total{output="file"}') < 200:
        time.sleep(0.1)
    result = {
        "second_exit": code, "seconds": round(seconds, 3),
        "names_dir_and_pid": first.spool in message and f"pid {first.process.pid}" in message,
        "first_status_after": after,
        "first_written": first.metric('auth0_ingest_documents_written_total{output="file"}'),
    }
    result["first_exit"] = first.stop()
    return result


def scenario_tmpfs_flood(work):
    mount = os.path.join(work, "tmpfs")
    os.makedirs(mount)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", mount],
                      stderr=subprocess.DEVNULL).returncode != 0:
        return {"skipped": "cannot mount a tmpfs (needs root)"}
    try:
        agent = Agent(work, spool=os.path.join(mount, "spool"),
                      extra_webhook='retry_after = "1s"\n').start()
        stop_at = time.time() + 30
        lock = threading.Lock()
        statuses, acked, missing_retry_after = {}, [], [0]

        def client(worker):
            batch = 0
            while time.time() < stop_at:
                first = (worker * 1_000_000 + batch) * 100
                batch += 1
                body = "\n".join(event(f"9002026112110{first + k:043}", k) for k in range(100)).encode()
                try:
                    status, headers, _ = agent.post(body)
                except OSError as error:
                    status, headers = f"error:{type(error).__name__}", {}
                with lock:
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == 200:
                        acked.append(first)
                    elif status == 503 and "retry-after" not in {k.lower() for k in headers}:
                        missing_retry_after[0] += 1
                if status != 200:
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(w,)) for w in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Let the outputs drain, then someone else fills the disk: 503,
        # then the space comes back.
        deadline = time.time() + 120
        while time.time() < deadline and agent.metric("auth0_ingest_spool_acked_total") < agent.metric(
                'auth0_ingest_events_received_total{input="webhook"}'):
            time.sleep(0.5)
        ballast = os.path.join(mount, "ballast")
        fd = os.open(ballast, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 65536)
        except OSError:
            pass
        finally:
            os.close(fd)
        body = "\n".join(event(f"9002026112120{k:043}", k) for k in range(100)).encode()
        full_status = agent.post(body)[0]
        os.remove(ballast)
        freed = time.time()
        recovered = None
        while time.time() - freed < 30:
            if agent.post(body)[0] == 200:
                recovered = round(time.time() - freed, 2)
                break
            time.sleep(0.1)
        expected = {f"9002026112110{first + k:043}" for first in acked for k in range(100)}
        deadline = time.time() + 120
        pattern = re.compile(rb'"id":"(9002026112110\d{43})"')
        found = set()
        while time.time() < deadline:
            found = set()
            for name in os.listdir(agent.out):
                with open(os.path.join(agent.out, name), "rb") as f:
                    found.update(m.decode() for m in pattern.findall(f.read()))
            if expected <= found:
                break
            time.sleep(1)
        received = agent.metric('auth0_ingest_events_received_total{input="webhook"}')
        acked_total = agent.metric("auth0_ingest_spool_acked_total")
        agent.stderr.flush()
        log = open(agent.stderr.name).read()
        result = {
            "statuses": {str(k): v for k, v in statuses.items()},
            "status_500": statuses.get(500, 0),
            "503_without_retry_after": missing_retry_after[0],
            "acknowledged_events": len(expected),
            "acknowledged_missing_from_output": len(expected - found),
            "status_with_disk_filled": full_status,
            "seconds_to_accept_after_space_freed": recovered,
            "events_received_total": received, "spool_acked_total": acked_total,
            "disk_full_warnings": log.count("spool disk full"),
            "error_lines": log.count('"level":"ERROR"'),
        }
        result["exit"] = agent.stop()
        return result
    finally:
        subprocess.run(["umount", "-l", mount])


def main():
    scenarios = [scenario_dead_letters, scenario_long_ids, scenario_second_agent, scenario_tmpfs_flood]
    only = os.environ.get("ONLY")
    for scenario in scenarios:
        name = scenario.__name__.removeprefix("scenario_")
        if only and name not in only.split(","):
            continue
        results = []
        for run in range(RUNS):
            work = tempfile.mkdtemp(prefix=f"hs-{name}-")
            try:
                result = scenario(work)
            finally:
                if os.environ.get("KEEP"):
                    print(f"kept {work}", file=sys.stderr)
                else:
                    shutil.rmtree(work, ignore_errors=True)
            print(json.dumps({"scenario": name, "run": run + 1, **result}), flush=True)
            results.append(result)
        numeric = {key for key, value in results[0].items() if isinstance(value, (int, float)) and not isinstance(value, bool)}
        medians = {key: statistics.median(r[key] for r in results if r.get(key) is not None)
                   for key in sorted(numeric) if any(r.get(key) is not None for r in results)}
        print(json.dumps({"scenario": name, "median": medians}), flush=True)


main()
