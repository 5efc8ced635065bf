"""The baseline the service replaces: a Flask app with `/` and `/configs`,
as the original project served it through gunicorn. Benchmark use only."""

import os
import socket

from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/")
def index():
    return jsonify(
        service="webapp",
        version="0.1.0",
        environment=os.environ.get("APP_ENV", "local"),
        pod=os.environ.get("POD_NAME", socket.gethostname()),
    )


@app.route("/configs")
def configs():
    return jsonify({k: v for k, v in os.environ.items() if k.startswith("APP_")})
