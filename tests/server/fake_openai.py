#!/usr/bin/env python3
"""A tiny OpenAI-compatible endpoint for the server tests (loopback only; the product does not
need Python). POST /v1/chat/completions and /v1/images/generations; key "test-key". Prompts
containing SLOW sleep 5 s (timeouts), BROKEN answer 500. Every request is appended to LOG as
one JSON line. Usage: fake_openai.py PORT_FILE LOG"""
import base64, json, os, struct, sys, time, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port_file, log_path = sys.argv[1], sys.argv[2]


def png(w=4, h=4):
    raw = b"".join(b"\x00" + bytes([200, 40, 90] * w) for _ in range(h))
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


class H(BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        with open(log_path, "a") as f:
            f.write(json.dumps({"path": self.path, "auth": self.headers.get("Authorization"), "body": body}) + "\n")
        if self.headers.get("Authorization") != "Bearer test-key":
            return self.answer(401, {"error": {"message": "Incorrect API key provided"}})
        text = json.dumps(body)
        if "SLOW" in text:
            time.sleep(5)
        if "BROKEN" in text:
            return self.answer(500, {"error": {"message": "the model is on fire"}})
        if self.path == "/v1/chat/completions":
            user = body["messages"][-1]["content"]
            return self.answer(200, {"choices": [{"message": {"role": "assistant",
                "content": "[Verse]\nfake lyrics about " + user.split("What it is about: ")[-1] + "\n[Chorus]\nla la"}}]})
        if self.path == "/v1/images/generations":
            if "NOTPNG" in text:
                return self.answer(200, {"data": [{"b64_json": base64.b64encode(b"GIF89a....").decode()}]})
            return self.answer(200, {"data": [{"b64_json": base64.b64encode(png()).decode()}]})
        self.answer(404, {"error": {"message": "no such route"}})


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that gave up (the timeout check) is expected


srv = Server(("127.0.0.1", 0), H)
with open(port_file + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(port_file + ".tmp", port_file)
srv.serve_forever()
