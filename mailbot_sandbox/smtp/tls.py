"""TLS for SMTP: the sandbox's own small CA, the server certificate it signs, or the
certificate a user gives, and the server-side SSL context made from them.

The sandbox's files live in one folder (next to the database by default):
``ca.pem`` (the CA certificate clients trust), ``ca-key.pem``, ``server.pem`` and
``server-key.pem``. They are made at the first start and reused afterwards; the server
certificate is made again (by the same CA) when it no longer names every configured host or
is about to expire, so a client that trusts the CA once keeps trusting the sandbox.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from mailbot_sandbox.config import Config
from mailbot_sandbox.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no lock; two sandboxes starting at once on one folder is rare
    fcntl = None  # type: ignore[assignment]

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"
CA_DAYS = 3650
# 825 days: the longest a server certificate may live for Apple's TLS clients.
SERVER_DAYS = 825
RENEW_DAYS = 30  # a server certificate closer than this to its end is made again
WILDCARD_HOSTS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class TlsFiles:
    """The certificate and key the SMTP server presents, and the CA that signed them (None
    when the user gave the certificate: then the sandbox has no CA of its own)."""

    cert_file: Path
    key_file: Path
    ca_file: Path | None

    def ca_pem(self) -> bytes | None:
        """The CA certificate in PEM, for clients to trust; None without a sandbox CA."""
        return None if self.ca_file is None else self.ca_file.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        """The server side's SSL context: TLS 1.2 or newer, no client certificates asked for."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def tls_folder(config: Config) -> Path | None:
    """Where the sandbox keeps its CA and certificate: ``tls_dir``, else a ``tls`` folder next
    to the database file; None for a database in memory without ``tls_dir`` (the caller then
    makes a temporary folder)."""
    if config.tls_dir:
        return Path(config.tls_dir).expanduser()
    if config.db == ":memory:":
        return None
    return Path(config.db).expanduser().resolve().parent / "tls"


def host_names(config: Config) -> list[str]:
    """The names the server certificate must carry: the loopback names, the bound hosts
    (this machine's name when bound to every address) and ``tls_hostnames``."""
    names = ["localhost", "127.0.0.1", "::1"]
    for host in (config.host, config.smtp_bind_host):
        names.append(socket.gethostname() if host in WILDCARD_HOSTS else host)
    names.extend(config.tls_hostnames)
    return list(dict.fromkeys(name.lower() for name in names if name))


def prepare_tls(config: Config, folder: Path | None) -> TlsFiles:
    """The certificate the SMTP server presents: the user's (``tls_cert``/``tls_key``,
    checked), or the sandbox's own in ``folder``, made or renewed as needed.

    Raises:
        ConfigError: the user's files are missing, unreadable, expired or do not match, or
            the folder cannot be written; the message names the file and the problem.
    """
    if config.tls_cert or config.tls_key:
        return _user_files(config)
    if folder is None:
        raise ConfigError("no folder for the sandbox's TLS certificate (set tls_dir)")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder):
            return _sandbox_files(folder, host_names(config))
    except OSError as exc:
        raise ConfigError(
            f"cannot write the TLS certificate folder {folder}: {exc.strerror or exc}"
        ) from None


def _user_files(config: Config) -> TlsFiles:
    if not (config.tls_cert and config.tls_key):
        given, missing = ("tls_cert", "tls_key") if config.tls_cert else ("tls_key", "tls_cert")
        raise ConfigError(f"{given} is set but {missing} is not: give both, or neither")
    cert_file = Path(config.tls_cert).expanduser()
    key_file = Path(config.tls_key).expanduser()
    try:
        pem = cert_file.read_bytes()
        key_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read TLS file {exc.filename}: {exc.strerror}") from None
    try:
        certificate = x509.load_pem_x509_certificates(pem)[0]
    except ValueError:
        raise ConfigError(f"TLS certificate {cert_file} is not a PEM certificate") from None
    now = dt.datetime.now(dt.UTC)
    if certificate.not_valid_after_utc < now:
        ended = certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise ConfigError(f"TLS certificate {cert_file} expired on {ended}")
    if certificate.not_valid_before_utc > now:
        begins = certificate.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC")
        raise ConfigError(f"TLS certificate {cert_file} is not valid before {begins}")
    files = TlsFiles(cert_file, key_file, None)
    try:
        files.server_context()
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            raise ConfigError(f"TLS key {key_file} does not belong to {cert_file}") from None
        raise ConfigError(
            f"TLS key {key_file} cannot be used with {cert_file}: {exc.reason or exc}"
        ) from None
    return files


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Held while the files are checked and made, so two processes starting at once (the
    workers of ``serve``, two sandboxes on one folder) make one CA, not two."""
    if fcntl is None:
        yield
        return
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _sandbox_files(folder: Path, names: list[str]) -> TlsFiles:
    files = TlsFiles(folder / CERT_FILE, folder / KEY_FILE, folder / CA_FILE)
    ca_key_file = folder / CA_KEY_FILE
    assert files.ca_file is not None
    if files.ca_file.is_file() and ca_key_file.is_file():
        ca_cert = x509.load_pem_x509_certificate(files.ca_file.read_bytes())
        loaded = serialization.load_pem_private_key(ca_key_file.read_bytes(), None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise ConfigError(f"{ca_key_file} is not the sandbox CA's key")
        ca_key = loaded
    else:
        ca_cert, ca_key = _new_ca()
        _write(ca_key_file, _key_pem(ca_key), private=True)
        _write(files.ca_file, ca_cert.public_bytes(serialization.Encoding.PEM))
        files.cert_file.unlink(missing_ok=True)  # signed by a CA that is gone
    if not _still_good(files.cert_file, ca_cert, names):
        cert, key = _new_server_certificate(ca_cert, ca_key, names)
        _write(files.key_file, _key_pem(key), private=True)
        _write(files.cert_file, cert.public_bytes(serialization.Encoding.PEM))
    return files


def _still_good(cert_file: Path, ca_cert: x509.Certificate, names: Iterable[str]) -> bool:
    """Whether the server certificate on disk was made by this CA, names every host and has
    more than ``RENEW_DAYS`` left."""
    if not cert_file.is_file() or not cert_file.with_name(KEY_FILE).is_file():
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    held = {name.lower() for name in sans.get_values_for_type(x509.DNSName)}
    held |= {str(address) for address in sans.get_values_for_type(x509.IPAddress)}
    left = cert.not_valid_after_utc - dt.datetime.now(dt.UTC)
    return (
        cert.issuer == ca_cert.subject
        and all(_canonical(name) in held for name in names)
        and left > dt.timedelta(days=RENEW_DAYS)
    )


def _canonical(name: str) -> str:
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


def _new_ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    # A name of its own per CA, so two sandboxes' CAs trusted side by side never clash.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "mailbot-sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"mailbot-sandbox CA {os.urandom(4).hex()}"),
        ]
    )
    now = dt.datetime.now(dt.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_ca_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )


def _new_server_certificate(
    ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, names: list[str]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    alternatives: list[x509.GeneralName] = []
    for name in names:
        try:
            alternatives.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alternatives.append(x509.DNSName(name))
    now = dt.datetime.now(dt.UTC)
    ca_public = ca_key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_public), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Write ``data`` whole or not at all (a crash mid-write leaves the old file); keys are
    readable by their owner only."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temporary, 0o600 if private else 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
