#!/bin/sh
# A self-signed certificate for localhost and 127.0.0.1, for the engine client's TLS tests:
# the test engine serves it, the client trusts it as its only root.
set -e
cd "$(dirname "$0")"
openssl req -x509 -newkey rsa:2048 -nodes -keyout key.pem -out cert.pem -days 36500 \
    -subj "/CN=localhost" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1"
