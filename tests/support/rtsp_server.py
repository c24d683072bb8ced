#!/usr/bin/python3
"""A local RTSP server for vigil's tests (Debian's python3-gi + GStreamer).

  rtsp_server.py --port-file F [--port P] [--log L] --mount NAME=FILE.mp4 ...
  rtsp_server.py --port-file F [--port P] [--log L] --silent | --garbage

Normal mode serves each FILE (MP4 holding H.264, made once by the test with
ffmpeg/libx264) at rtsp://127.0.0.1:PORT/NAME without re-encoding:
filesrc ! qtdemux ! h264parse ! rtph264pay, in real time. --silent accepts
TCP connections and never answers; --garbage answers every connection with
random bytes. PORT is written to F (a temporary renamed into place) once the
server listens, so a test waits for F, not for a time. --port 0 (default)
picks a free port; --port P binds P again (a restart on the same port).
Every client is logged to L ("client N" lines, flushed), and the server's
CPU time ("cpu user_s system_s wall_s") when it ends on SIGTERM/SIGINT.
"""
import argparse
import os
import random
import resource
import signal
import socket
import sys
import threading
import time


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.rename(tmp, path)


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1) if path else None
        self.n = 0
        self.lock = threading.Lock()

    def client(self):
        with self.lock:
            self.n += 1
            if self.f:
                self.f.write("client %d\n" % self.n)

    def line(self, s):
        if self.f:
            self.f.write(s + "\n")


def cpu_line(t0):
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return "cpu %.3f %.3f %.3f" % (ru.ru_utime, ru.ru_stime, time.monotonic() - t0)


def raw_server(args, log, t0):
    """--silent and --garbage: a plain TCP server."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", args.port))
    s.listen(16)
    held = []
    stop = threading.Event()

    def on_signal(*_):
        log.line(cpu_line(t0))
        os._exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    write_port(args.port_file, s.getsockname()[1])
    rnd = random.Random(1)

    def garbage(c):
        try:
            while not stop.is_set():
                c.sendall(bytes(rnd.getrandbits(8) for _ in range(4096)))
                c.recv(65536)
        except OSError:
            pass
        finally:
            c.close()

    while True:
        c, _ = s.accept()
        log.client()
        if args.garbage:
            threading.Thread(target=garbage, args=(c,), daemon=True).start()
        else:
            held.append(c)  # never answered, never closed


def rtsp_server(args, log, t0):
    import gi
    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for m in args.mount:
        name, _, path = m.partition("=")
        if not path or not os.path.isfile(path):
            sys.exit("rtsp_server: bad --mount %r" % m)
        f = GstRtspServer.RTSPMediaFactory()
        f.set_launch(
            "( filesrc location=%s ! qtdemux ! h264parse ! "
            "rtph264pay name=pay0 pt=96 config-interval=1 )" % path)
        f.set_shared(False)
        mounts.add_factory("/" + name, f)
    server.connect("client-connected", lambda *_: log.client())
    if server.attach(None) == 0:
        sys.exit("rtsp_server: cannot listen on port %d" % args.port)
    loop = GLib.MainLoop()

    def on_signal():
        log.line(cpu_line(t0))
        loop.quit()
        return GLib.SOURCE_REMOVE

    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, on_signal)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, on_signal)
    write_port(args.port_file, server.get_bound_port())
    loop.run()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log")
    p.add_argument("--mount", action="append", default=[])
    g = p.add_mutually_exclusive_group()
    g.add_argument("--silent", action="store_true")
    g.add_argument("--garbage", action="store_true")
    args = p.parse_args()
    t0 = time.monotonic()
    log = Log(args.log)
    if args.silent or args.garbage:
        raw_server(args, log, t0)
    else:
        rtsp_server(args, log, t0)


if __name__ == "__main__":
    main()
