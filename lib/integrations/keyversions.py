"""The store's record of the encryption key versions, checked against the cipher at start-up and in /readyz.

A keyring that lost or changed a version the store recorded is refused (KEYRING_MISMATCH) instead of being used:
otherwise every re-validation would report the credentials encrypted under it as broken."""

from __future__ import annotations

from .crypto.base import Cipher
from .domain import utcnow
from .errors import Code, IntegrationError
from .store.base import IntegrationStore, KeyVersion


def verify(
    store: IntegrationStore, cipher: Cipher, record: bool = True, recorded: dict[str, KeyVersion] | None = None
) -> None:
    """Refuse a cipher lacking a live recorded key version (or holding another key under its name); record the
    versions it holds that the store does not know yet (a rotation, or the first start after an upgrade) unless
    `record` is False (doctor changes nothing). `recorded`: the store's record when the caller has just read it."""
    held = cipher.key_versions()
    if not held:
        return  # versions managed by the service (Cloud KMS)
    recorded = store.key_versions() if recorded is None else recorded
    wrong = sorted(r for r, v in recorded.items() if v.retired_at is None and held.get(r) != v.key_check)
    if wrong:
        raise IntegrationError(
            Code.KEYRING_MISMATCH,
            f"The keyring does not hold the key version(s) {', '.join(wrong)} the store recorded; restore the "
            "keyring that encrypted the stored credentials.",
        )
    for key_ref, check in held.items() if record else ():
        if key_ref not in recorded:
            store.record_key_version(key_ref, check, utcnow())


def check_current(store: IntegrationStore, cipher: Cipher, record: bool = True) -> None:
    """Before an encryption: the cipher's versions agree with the store's record (verify) and its current version
    is not one the store records as retired (KEY_VERSION_RETIRED): a process whose keyring is out of date never
    writes a ciphertext that nothing could decrypt after the retirement. Free for Cloud KMS (no recorded versions);
    one store read for the local keyring."""
    held = cipher.key_versions()
    if not held:
        return
    current = cipher.current_key_ref()
    versions = store.key_versions()  # one read, for both checks
    recorded = versions.get(current)
    if recorded is not None and recorded.retired_at is not None:
        raise IntegrationError(
            Code.KEY_VERSION_RETIRED,
            f"This process would encrypt under {current}, which was retired on {recorded.retired_at:%Y-%m-%d %H:%M} "
            "UTC; nothing was stored.",
        )
    verify(store, cipher, record, versions)


def store_is_empty(store: IntegrationStore) -> bool:
    """No key version recorded and no credential ever stored: the only state in which a keyring may be created."""
    return not store.key_versions() and not store.list_credentials(active_only=False)


def retire(store: IntegrationStore, cipher: Cipher, key_ref: str) -> None:
    """Remove a key version for good; refused while any stored ciphertext uses it or when it is current."""
    remove = getattr(cipher, "retire", None)
    if remove is None:
        raise IntegrationError(
            Code.CONFIGURATION_ERROR,
            "Only the local keyring retires versions here; destroy a Cloud KMS key version in Google Cloud.",
        )
    recorded = store.key_versions().get(key_ref)
    if recorded is None:
        known = ", ".join(sorted(store.key_versions())) or "none"
        raise IntegrationError(Code.KEY_VERSION_NOT_FOUND, f"No key version {key_ref} is recorded (recorded: {known}).")
    if recorded.retired_at is not None:
        raise IntegrationError(
            Code.KEY_VERSION_ALREADY_RETIRED, f"{key_ref} was retired on {recorded.retired_at:%Y-%m-%d %H:%M:%S} UTC."
        )
    using = sum(1 for r in store.list_credentials() if r.key_ref == key_ref and r.encrypted_credential)
    if using or key_ref == cipher.current_key_ref():
        raise IntegrationError(
            Code.KEY_VERSION_IN_USE,
            f"{key_ref} is "
            + (f"used by {using} stored credential(s)" if using else "the current key version")
            + "; run `integrations key rotate` and `integrations rewrap` first.",
        )
    store.retire_key_version(key_ref, utcnow())  # first: a crash before the keyring write leaves a spare key only
    remove(key_ref)
