"""A throwaway certificate authority that issues loopback server certificates.

Validity is chosen by the caller, so a test can serve an expired certificate or one
about to expire::

    ca = TestCA.create()
    fresh = ca.issue()
    expired = ca.issue(not_after=datetime.now(UTC) - timedelta(days=1))
    soon = ca.issue(valid_for=timedelta(days=3))
"""

from __future__ import annotations

import ipaddress
import logging
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

logger = logging.getLogger(__name__)

DEFAULT_LEAF_VALIDITY = timedelta(days=30)
CA_VALIDITY = timedelta(days=365)
# Back-date by a little so clocks that differ by seconds still accept a fresh certificate.
CLOCK_SKEW = timedelta(minutes=5)


def _new_key() -> ec.EllipticCurvePrivateKey:
    # P-256: generated in a millisecond, unlike RSA, and accepted by nginx and OpenSSL.
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True)
class IssuedCertificate:
    """A leaf certificate and its private key."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return _key_pem(self.key)

    @property
    def not_after(self) -> datetime:
        return self.certificate.not_valid_after_utc

    @property
    def fingerprint(self) -> bytes:
        """SHA-256 of the DER certificate, to tell which certificate a server presents."""
        return self.certificate.fingerprint(hashes.SHA256())

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate and key as PEM; the key file is readable by its owner only."""
        cert_path.write_bytes(self.cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_bytes(self.key_pem)


@dataclass(frozen=True)
class TestCA:
    """A self-signed CA whose certificate a client trusts to verify issued leaves."""

    __test__ = False  # not a pytest test class despite the name

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, common_name: str = "Vigil Test CA") -> TestCA:
        key = _new_key()
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(_name(common_name))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .sign(key, hashes.SHA256())
        )
        return cls(certificate, key)

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def write(self, path: Path) -> Path:
        """Write the CA certificate (the trust anchor) as PEM and return its path."""
        path.write_bytes(self.cert_pem)
        return path

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts this CA only and checks host names and dates."""
        return ssl.create_default_context(cadata=self.cert_pem.decode("ascii"))

    def issue(
        self,
        common_name: str = "localhost",
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        valid_for: timedelta = DEFAULT_LEAF_VALIDITY,
    ) -> IssuedCertificate:
        """Issue a server certificate for ``IP:127.0.0.1`` and ``DNS:localhost``.

        ``not_after`` wins over ``valid_for``; both count from now. A ``not_after`` in
        the past gives an expired certificate.
        """
        now = datetime.now(UTC)
        end = not_after if not_after is not None else now + valid_for
        start = not_before if not_before is not None else min(now, end) - CLOCK_SKEW
        key = _new_key()
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        certificate = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
            .sign(self.key, hashes.SHA256())
        )
        logger.debug("issued %s valid %s .. %s", common_name, start, end)
        return IssuedCertificate(certificate, key)
