#!/usr/bin/env python3
"""Acceptance measurements of the webhook's network edge (issue 8, part A)
against the release binary, loopback only, bounded in time.

    bench/hostile.py [--binary target/release/auth0-ingest] [--only NAME]

Scenarios (each prints one JSON line; exit status 1 if a check fails):

  stall    600 connections pipelining GET /healthz without reading, plus 600
           slow-header connections (a header line every 5 s), over TLS; then a
           legitimate batch must get its 200 within idle_timeout + 10 s, and
           every attack connection must be closed within the timeouts.
  bodies   500 concurrent 15 MiB bodies, plain HTTP (bodies-tls: over TLS):
           peak RSS (VmHWM) <= max_inflight_bytes + 150 MiB; each request 200,
           or 503 with Retry-After; every event of a 200 in the output.
  linger   Python http.client POSTs of 17 MiB and 100 MiB with Content-Length,
           TLS and plain: each must read its 413.

Defaults of the agent are used (idle_timeout = send_timeout = 30s,
header_timeout = 10s, max_connections = 512, max_inflight_bytes = 256MiB).
"""

import argparse
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

MIB = 1024 * 1024
IDLE_TIMEOUT = 30
SEND_TIMEOUT = 30
HEADER_TIMEOUT = 10
MAX_INFLIGHT = 256 * MIB


class Agent:
    """The release binary on a fresh spool, TLS (dev certificate) or plain."""

    def __init__(self, binary, work, port, tls):
        self.binary = binary
        self.port = port
        self.tls = tls
        self.dir = os.path.join(work, f"agent-{port}")
        os.makedirs(self.dir)
        data = os.path.join(work, "auth0-ingest-data")
        self.token = open(os.path.join(data, "token")).read().strip()
        self.cert = os.path.join(data, "certs", "dev-cert.pem")
        tls_table = (
            f'[webhook.tls]\ncert = "{self.cert}"\nkey = "{os.path.join(data, "certs", "dev-key.pem")}"\n'
            if tls
            else ""
        )
        config = os.path.join(self.dir, "agent.toml")
        with open(config, "w") as out:
            out.write(
                f'[webhook]\nlisten = "127.0.0.1:{port}"\ntokens = ["{self.token}"]\n{tls_table}'
                f'[spool]\ndir = "{self.dir}/spool"\nmax_bytes = "2GiB"\n'
                f'[output.file]\ndir = "{self.dir}/out"\n'
                f'[enrich]\ngeoip_city = ""\ngeoip_asn = ""\n[log]\nlevel = "warn"\n'
                f'[admin]\nlisten = ""\n'
            )
        self.stderr = open(os.path.join(self.dir, "agent.log"), "w")
        self.process = subprocess.Popen(
            [binary, "run", "--config", config], stdout=subprocess.DEVNULL, stderr=self.stderr
        )
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if self.request("GET", "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"agent on {port} did not start")

    def context(self):
        context = ssl.create_default_context(cafile=self.cert)
        return context

    def connection(self, timeout=60):
        if self.tls:
            return http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout, context=self.context()
            )
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = self.connection(timeout)
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, response.getheader("Retry-After"), response.read()
        finally:
            connection.close()

    def post(self, body, timeout=120, parts=None):
        """POSTs `body` (or the concatenation of `parts`, sent one after the
        other under one Content-Length) and returns (status, Retry-After, body)."""
        headers = {"Authorization": self.token, "Content-Type": "application/json"}
        if parts is not None:
            body = parts
            headers["Content-Length"] = str(sum(len(part) for part in parts))
        return self.request("POST", "/auth0/logs", body=body, headers=headers, timeout=timeout)

    def peak_rss_mib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return None

    def alive(self):
        return self.process.poll() is None

    def output_log_ids(self):
        ids = set()
        out = os.path.join(self.dir, "out")
        for name in os.listdir(out) if os.path.isdir(out) else []:
            with open(os.path.join(out, name), "rb") as lines:
                for line in lines:
                    if line.strip():
                        ids.add(json.loads(line).get("event", {}).get("id"))
        return ids

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.stderr.close()


def event(log_id):
    return json.dumps(
        {
            "log_id": log_id,
            "data": {
                "date": "2026-11-21T10:00:00.120Z",
                "type": "s",
                "description": "Successful login",
                "ip": "81.2.69.143",
                "user_name": "alice@example.com",
                "log_id": log_id,
            },
        }
    )


def closed(sock):
    """Whether the peer closed or reset `sock` (without reading its data)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLRDHUP | select.POLLHUP | select.POLLERR)
    return bool(poller.poll(0))


def scenario_stall(agent):
    """Pipelining non-readers and slow headers, then one legitimate batch."""
    healthz = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 200
    attackers = []  # (kind, socket, opened_at)
    context = agent.context()
    started = time.time()
    for index in range(1200):
        raw = socket.socket()
        # A non-reader shrinks its window, so the server's writes stall soon.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(10)
        try:
            raw.connect(("127.0.0.1", agent.port))
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        except (OSError, ssl.SSLError):
            raw.close()
            attackers.append(("refused", None, time.time()))
            continue
        sock.setblocking(False)
        kind = "pipeline" if index % 2 == 0 else "slow-header"
        try:
            if kind == "slow-header":
                sock.send(b"POST /auth0/logs HTTP/1.1\r\nHost: x\r\n")
        except (OSError, ssl.SSLError):
            pass
        attackers.append((kind, sock, time.time()))
    opened = time.time() - started
    closed_after = {}  # index -> seconds after its open
    stop = threading.Event()

    def attack():
        last_header = time.time()
        while not stop.is_set():
            now = time.time()
            send_header = now - last_header >= 5
            if send_header:
                last_header = now
            for index, (kind, sock, opened_at) in enumerate(attackers):
                if sock is None or index in closed_after:
                    continue
                if closed(sock):
                    closed_after[index] = time.time() - opened_at
                    continue
                try:
                    if kind == "pipeline":
                        sock.send(healthz)
                    elif send_header:
                        sock.send(b"X-Slow: 1\r\n")
                except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                    pass
                except (OSError, ssl.SSLError):
                    closed_after[index] = time.time() - opened_at
            time.sleep(0.05)

    attacker = threading.Thread(target=attack, daemon=True)
    attacker.start()
    time.sleep(2)  # the pipelines fill their buffers
    batch = "\n".join(event(f"stall-{n}") for n in range(100)).encode()
    legit_started = time.time()
    try:
        status = agent.post(batch, timeout=IDLE_TIMEOUT + 10)[0]
    except OSError as error:
        status = f"error: {error}"
    legit_seconds = time.time() - legit_started
    # Wait for the attack connections to be closed (bounded).
    limit = max(SEND_TIMEOUT, IDLE_TIMEOUT, HEADER_TIMEOUT) + 15
    deadline = time.time() + limit
    live = [i for i, (_, sock, _) in enumerate(attackers) if sock is not None]
    while time.time() < deadline and len(closed_after) < len(live):
        time.sleep(0.5)
    stop.set()
    attacker.join()
    for _, sock, _ in attackers:
        if sock is not None:
            sock.close()

    def summary(kind):
        times = sorted(closed_after[i] for i in live if attackers[i][0] == kind and i in closed_after)
        total = sum(1 for i in live if attackers[i][0] == kind)
        return {
            "connections": total,
            "closed": len(times),
            "median_s": round(times[len(times) // 2], 1) if times else None,
            "max_s": round(times[-1], 1) if times else None,
        }

    result = {
        "scenario": "stall",
        "tls": agent.tls,
        "open_seconds": round(opened, 1),
        "refused_at_connect": sum(1 for kind, _, _ in attackers if kind == "refused"),
        "legit_status": status,
        "legit_seconds": round(legit_seconds, 2),
        "pipeline": summary("pipeline"),
        "slow_header": summary("slow-header"),
        "agent_alive": agent.alive(),
    }
    pipeline, slow = result["pipeline"], result["slow_header"]
    result["ok"] = (
        status == 200
        and legit_seconds <= IDLE_TIMEOUT + 10
        and pipeline["closed"] == pipeline["connections"]
        and slow["closed"] == slow["connections"]
        and (pipeline["max_s"] or 0) <= SEND_TIMEOUT + opened + 5
        and (slow["max_s"] or 0) <= HEADER_TIMEOUT + opened + 5
        and agent.alive()
    )
    return result


def scenario_bodies(agent):
    """500 concurrent 15 MiB bodies: a few events, then blank padding."""
    size = 15 * MIB
    results = [None] * 500
    barrier = threading.Barrier(500)
    # One shared padding buffer: 500 private 15 MiB bodies would take 7.5 GB.
    padding = b"\n" * (size - 8 * 1024)

    def client(index):
        ids = [f"body-{index}-{n}" for n in range(5)]
        head = "\n".join(event(log_id) for log_id in ids).encode() + b"\n"
        head += b" " * (8 * 1024 - len(head))
        barrier.wait()
        try:
            status, retry_after, _ = agent.post(None, timeout=300, parts=[head, padding])
        except OSError as error:
            status, retry_after = f"error: {type(error).__name__}", None
        results[index] = (status, retry_after, ids)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(500)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.time() - started
    peak = agent.peak_rss_mib()
    statuses = {}
    for status, retry_after, _ in results:
        key = f"{status}" + ("+Retry-After" if retry_after else "")
        statuses[key] = statuses.get(key, 0) + 1
    acked = {log_id for status, _, ids in results if status == 200 for log_id in ids}
    # Every acknowledged event reaches the output (bounded wait).
    deadline = time.time() + 120
    missing = acked
    while time.time() < deadline:
        missing = acked - agent.output_log_ids()
        if not missing:
            break
        time.sleep(1)
    result = {
        "scenario": "bodies",
        "tls": agent.tls,
        "seconds": round(seconds, 1),
        "statuses": statuses,
        "peak_rss_mib": round(peak, 1) if peak else None,
        "rss_limit_mib": MAX_INFLIGHT / MIB + 150,
        "acked_events": len(acked),
        "acked_events_missing": len(missing),
        "agent_alive": agent.alive(),
    }
    result["ok"] = (
        peak is not None
        and peak <= MAX_INFLIGHT / MIB + 150
        and all(k in ("200", "503+Retry-After") for k in statuses)
        and not missing
        and agent.alive()
    )
    return result


def scenario_linger(agents):
    results = []
    for agent in agents:
        for size in (17 * MIB, 100 * MIB):
            body = b"x" * size
            started = time.time()
            try:
                status = agent.post(body)[0]
            except OSError as error:
                status = f"error: {type(error).__name__}: {error}"
            results.append(
                {
                    "tls": agent.tls,
                    "mib": size // MIB,
                    "status": status,
                    "seconds": round(time.time() - started, 2),
                }
            )
    return {
        "scenario": "linger",
        "posts": results,
        "ok": all(post["status"] == 413 for post in results),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default="target/release/auth0-ingest")
    parser.add_argument("--only", choices=["stall", "bodies", "bodies-tls", "linger"])
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    work = tempfile.mkdtemp(prefix="hostile-")
    agents = []
    ok = True
    try:
        # The embedded default config writes a dev certificate and a token.
        subprocess.run(
            ["timeout", "3", binary, "run"], cwd=work,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False,
        )
        runs = [args.only] if args.only else ["stall", "bodies", "bodies-tls", "linger"]
        for name in runs:
            if name == "stall":
                agent = Agent(binary, work, 18401, tls=True)
                agents.append(agent)
                result = scenario_stall(agent)
            elif name.startswith("bodies"):
                tls = name == "bodies-tls"
                agent = Agent(binary, work, 18405 if tls else 18402, tls=tls)
                agents.append(agent)
                result = scenario_bodies(agent)
            else:
                pair = [Agent(binary, work, 18403, tls=True), Agent(binary, work, 18404, tls=False)]
                agents.extend(pair)
                result = scenario_linger(pair)
            ok &= result["ok"]
            print(json.dumps(result), flush=True)
            for agent in agents:
                agent.stop()
            agents.clear()
    finally:
        for agent in agents:
            agent.stop()
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
