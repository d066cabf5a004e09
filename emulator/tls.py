"""Certificates for the loopback HTTPS server and the id_token signing key.

MSAL only accepts ``https`` authorities and token endpoints (graph-reference I.2, I.5), so the emulator serves TLS with
its own throw-away certificate authority. Clients trust ``ca.pem`` (``verify=<ca.pem>`` per request, reference K).

Only APIs present in both cryptography 3.4 and current releases are used (``default_backend()`` is passed where 3.4
wanted it; newer releases ignore it).
"""

import datetime
import ipaddress
import logging
import os
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_logger = logging.getLogger(__name__)

CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
CERT_FILE, KEY_FILE = "server.pem", "server-key.pem"
SIGNING_KEY_FILE = "token-signing-key.pem"
BUNDLE_FILE = "ca-bundle.pem"


@dataclass(frozen=True)
class TLSFiles:
    ca_path: str
    cert_path: str
    key_path: str
    bundle_path: str


def _utcnow():
    """Naive UTC now (what CertificateBuilder expects in every cryptography release)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


def _not_valid_after(cert):
    """``not_valid_after_utc`` (cryptography >= 42) or the naive ``not_valid_after`` of older releases."""
    aware = getattr(cert, "not_valid_after_utc", None)
    return aware.replace(tzinfo=None) if aware is not None else cert.not_valid_after


def _write(path, data, private=False):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _load_ca(state_dir):
    """Reuse a CA left by a previous run (a browser that trusted it keeps trusting it)."""
    ca_path, key_path = os.path.join(state_dir, CA_FILE), os.path.join(state_dir, CA_KEY_FILE)
    if not (os.path.exists(ca_path) and os.path.exists(key_path)):
        return None
    try:
        with open(ca_path, "rb") as handle:
            cert = x509.load_pem_x509_certificate(handle.read(), default_backend())
        with open(key_path, "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), None, default_backend())
    except (ValueError, OSError) as exc:
        _logger.warning("emulator: ignoring unreadable CA in %s (%s)", state_dir, exc)
        return None
    if _not_valid_after(cert) < _utcnow() + datetime.timedelta(days=30):
        return None
    return cert, key


def _make_ca(state_dir):
    key = ec.generate_private_key(ec.SECP256R1(), default_backend())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Outlook Calendar Sync Emulator CA")])
    now = _utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )  # key_cert_sign + crl_sign
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256(), default_backend())
    )
    _write(os.path.join(state_dir, CA_FILE), cert.public_bytes(serialization.Encoding.PEM))
    _write(os.path.join(state_dir, CA_KEY_FILE), _pem_key(key), private=True)
    return cert, key


def _make_server_cert(state_dir, ca_cert, ca_key, host):
    key = ec.generate_private_key(ec.SECP256R1(), default_backend())
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    try:
        extra = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        extra = x509.DNSName(host)
    if extra not in names:
        names.append(extra)
    now = _utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, True, False, False, False, False, False, False), critical=True
        )  # digital_signature + key_encipherment
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256(), default_backend())
    )
    _write(os.path.join(state_dir, CERT_FILE), cert.public_bytes(serialization.Encoding.PEM))
    _write(os.path.join(state_dir, KEY_FILE), _pem_key(key), private=True)


def ensure_certificates(state_dir, host="127.0.0.1"):
    """Create (or reuse) the CA and issue a fresh server certificate for ``127.0.0.1``/``localhost``/``host``.

    :return: :class:`TLSFiles` with absolute paths
    """
    os.makedirs(state_dir, exist_ok=True)
    ca = _load_ca(state_dir) or _make_ca(state_dir)
    _make_server_cert(state_dir, ca[0], ca[1], host)
    ca_path = os.path.abspath(os.path.join(state_dir, CA_FILE))
    return TLSFiles(
        ca_path=ca_path,
        cert_path=os.path.abspath(os.path.join(state_dir, CERT_FILE)),
        key_path=os.path.abspath(os.path.join(state_dir, KEY_FILE)),
        bundle_path=_write_bundle(state_dir, ca_path),
    )


def _write_bundle(state_dir, ca_path):
    """System CAs + the emulator CA in one file: point ``REQUESTS_CA_BUNDLE`` at it when a process must trust both
    (graph-reference K: a session-level ``verify`` path is overridden by ``REQUESTS_CA_BUNDLE``)."""
    parts = []
    candidates = [
        os.environ.get("REQUESTS_CA_BUNDLE"),
        os.environ.get("SSL_CERT_FILE"),
        ssl.get_default_verify_paths().cafile,
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    bundle = os.path.abspath(os.path.join(state_dir, BUNDLE_FILE))
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.path.abspath(candidate) != bundle:
            with open(candidate, "rb") as handle:
                parts.append(handle.read().rstrip() + b"\n")
            break
    with open(ca_path, "rb") as handle:
        parts.append(handle.read())
    _write(bundle, b"".join(parts))
    return bundle


def server_context(files):
    """TLS server context (TLS 1.2+) for :class:`TLSFiles`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(files.cert_path, files.key_path)
    return context


def load_signing_key(state_dir):
    """RSA key that signs id_tokens (RS256, published at ``jwks_uri``); kept in ``state_dir`` between runs."""
    path = os.path.join(state_dir, SIGNING_KEY_FILE)
    if os.path.exists(path):
        try:
            with open(path, "rb") as handle:
                return serialization.load_pem_private_key(handle.read(), None, default_backend())
        except (ValueError, OSError):
            _logger.warning("emulator: regenerating unreadable signing key %s", path)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048, backend=default_backend())
    _write(path, _pem_key(key), private=True)
    return key
