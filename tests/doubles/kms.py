"""A local Cloud KMS gRPC server: generic handlers with the kms_v1 message types, AES-GCM inside, several key
versions, AAD honoured.

As strict as the service where the adapter can trip: the CRC32C of every checksummed request field (plaintext,
ciphertext, AAD, MAC data) is verified and a mismatch is INVALID_ARGUMENT; IAM is per method (`deny` names the
methods the caller lacks the permission for, e.g. {"GetCryptoKey"}: what roles/cloudkms.cryptoKeyEncrypterDecrypter
grants is Encrypt and Decrypt, not cloudkms.cryptoKeys.get); a key version that is DISABLED or DESTROYED answers
FAILED_PRECONDITION, as the service does. Faults: corrupt the CRC of N responses."""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
from collections.abc import Iterator
from concurrent import futures
from contextlib import contextmanager
from dataclasses import dataclass, field

import google_crc32c
import grpc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from google.cloud import kms_v1

KEY = "projects/p/locations/global/keyRings/integrations/cryptoKeys/credentials"
MAC_KEY_VERSION = "projects/p/locations/global/keyRings/integrations/cryptoKeys/fingerprints/cryptoKeyVersions/1"
SERVICE = "google.cloud.kms.v1.KeyManagementService"
PERMISSIONS = {
    "Encrypt": "cloudkms.cryptoKeyVersions.useToEncrypt",
    "Decrypt": "cloudkms.cryptoKeyVersions.useToDecrypt",
    "GetCryptoKey": "cloudkms.cryptoKeys.get",
    "MacSign": "cloudkms.cryptoKeyVersions.useToSign",
}
ENCRYPTER_DECRYPTER_AND_SIGNER = {"GetCryptoKey"}  # denied: the README's roles grant every other method we call


def crc(data: bytes) -> int:
    return google_crc32c.value(data)


@dataclass
class KmsState:
    versions: dict[int, bytes] = field(default_factory=lambda: {1: AESGCM.generate_key(256)})
    primary: int = 1
    mac_key: bytes = field(default_factory=lambda: os.urandom(32))
    corrupt_responses: int = 0
    deny: bool | set[str] = False  # True: every method; a set: those methods
    states: dict[int, str] = field(default_factory=dict)  # version -> DISABLED / DESTROYED (default ENABLED)
    mac_state: str = "ENABLED"
    calls: int = 0

    def rotate(self) -> str:
        self.primary = max(self.versions) + 1
        self.versions[self.primary] = AESGCM.generate_key(256)
        return f"{KEY}/cryptoKeyVersions/{self.primary}"


def _handlers(state: KmsState) -> grpc.GenericRpcHandler:
    def guard(context: grpc.ServicerContext, method: str, name: str, expected: str) -> None:
        state.calls += 1
        if state.deny is True or (isinstance(state.deny, set) and method in state.deny):
            context.abort(
                grpc.StatusCode.PERMISSION_DENIED,
                f"Permission '{PERMISSIONS[method]}' denied on resource '{name}' (or it may not exist).",
            )
        if name != expected:
            context.abort(grpc.StatusCode.NOT_FOUND, f"{name} not found.")

    def checksum(context: grpc.ServicerContext, field_name: str, data: bytes, given: int | None) -> None:
        if given is not None and crc(data) != given:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"The checksum in field {field_name}_crc32c did not match the data in field {field_name}.",
            )

    def enabled(context: grpc.ServicerContext, version_name: str, current: str) -> None:
        if current != "ENABLED":
            context.abort(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"{version_name} is not enabled, current state is: {current}.",
            )

    def corrupt() -> bool:
        if state.corrupt_responses > 0:
            state.corrupt_responses -= 1
            return True
        return False

    def encrypt(req: kms_v1.EncryptRequest, context: grpc.ServicerContext) -> kms_v1.EncryptResponse:
        guard(context, "Encrypt", req.name, KEY)
        checksum(context, "plaintext", req.plaintext, req.plaintext_crc32c)
        aad, aad_crc = req.additional_authenticated_data, req.additional_authenticated_data_crc32c
        checksum(context, "additional_authenticated_data", aad, aad_crc)
        enabled(context, f"{KEY}/cryptoKeyVersions/{state.primary}", state.states.get(state.primary, "ENABLED"))
        nonce = os.urandom(12)
        body = AESGCM(state.versions[state.primary]).encrypt(nonce, req.plaintext, req.additional_authenticated_data)
        ciphertext = struct.pack(">I", state.primary) + nonce + body
        return kms_v1.EncryptResponse(
            name=f"{KEY}/cryptoKeyVersions/{state.primary}",
            ciphertext=ciphertext,
            ciphertext_crc32c=crc(ciphertext) ^ (1 if corrupt() else 0),
            verified_plaintext_crc32c=req.plaintext_crc32c is not None,
            verified_additional_authenticated_data_crc32c=req.additional_authenticated_data_crc32c is not None,
        )

    def decrypt(req: kms_v1.DecryptRequest, context: grpc.ServicerContext) -> kms_v1.DecryptResponse:
        guard(context, "Decrypt", req.name, KEY)
        checksum(context, "ciphertext", req.ciphertext, req.ciphertext_crc32c)
        aad, aad_crc = req.additional_authenticated_data, req.additional_authenticated_data_crc32c
        checksum(context, "additional_authenticated_data", aad, aad_crc)
        if len(req.ciphertext) >= 4 and struct.unpack_from(">I", req.ciphertext)[0] in state.versions:
            version = struct.unpack_from(">I", req.ciphertext)[0]
            enabled(context, f"{KEY}/cryptoKeyVersions/{version}", state.states.get(version, "ENABLED"))
        try:
            (version,) = struct.unpack_from(">I", req.ciphertext)
            key = state.versions[version]
            plaintext = AESGCM(key).decrypt(
                req.ciphertext[4:16], req.ciphertext[16:], req.additional_authenticated_data
            )
        except (struct.error, KeyError, InvalidTag):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "Decryption failed: the ciphertext is invalid.")
        return kms_v1.DecryptResponse(plaintext=plaintext, plaintext_crc32c=crc(plaintext) ^ (1 if corrupt() else 0))

    def get_crypto_key(req: kms_v1.GetCryptoKeyRequest, context: grpc.ServicerContext) -> kms_v1.CryptoKey:
        guard(context, "GetCryptoKey", req.name, KEY)
        primary = kms_v1.CryptoKeyVersion(name=f"{KEY}/cryptoKeyVersions/{state.primary}")
        return kms_v1.CryptoKey(name=KEY, primary=primary)

    def mac_sign(req: kms_v1.MacSignRequest, context: grpc.ServicerContext) -> kms_v1.MacSignResponse:
        guard(context, "MacSign", req.name, MAC_KEY_VERSION)
        checksum(context, "data", req.data, req.data_crc32c)
        enabled(context, MAC_KEY_VERSION, state.mac_state)
        mac = hmac.new(state.mac_key, req.data, hashlib.sha256).digest()
        return kms_v1.MacSignResponse(
            name=req.name,
            mac=mac,
            mac_crc32c=crc(mac) ^ (1 if corrupt() else 0),
            verified_data_crc32c=req.data_crc32c is not None,
        )

    def unary(fn, request_type, response_type):  # noqa: ANN001, ANN202
        return grpc.unary_unary_rpc_method_handler(
            fn, request_deserializer=request_type.deserialize, response_serializer=response_type.serialize
        )

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Encrypt": unary(encrypt, kms_v1.EncryptRequest, kms_v1.EncryptResponse),
            "Decrypt": unary(decrypt, kms_v1.DecryptRequest, kms_v1.DecryptResponse),
            "GetCryptoKey": unary(get_crypto_key, kms_v1.GetCryptoKeyRequest, kms_v1.CryptoKey),
            "MacSign": unary(mac_sign, kms_v1.MacSignRequest, kms_v1.MacSignResponse),
        },
    )


@contextmanager
def kms_server(state: KmsState | None = None) -> Iterator[tuple[str, KmsState]]:
    state = state or KmsState()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    server.add_generic_rpc_handlers((_handlers(state),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}", state
    finally:
        server.stop(grace=None)
