"""Reading a set's files for the pipeline: content hashes, the store's rows, and what changed.

A set already in the store should cost a listing and one read of the store. A
``SetReader`` asks ``facedash.data.filehashes`` for every file's remembered content
hash (by path, size and mtime), reads the stored detections and embeddings of
all those photos at once, and then, chunk by chunk, opens only the files whose
work is not all stored (hashing them and remembering the hash). At the end,
``changes()`` scans the folder once more and says, in one sentence, what changed
while the set was being read (photos rewritten, removed or added); nothing
already embedded is thrown away.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from facedash.data import filehashes
from facedash.data.datasets import Dataset, Failure
from facedash.data.images import content_hash
from facedash.data.store import Detection, Store
from facedash.errors import ImageError
from facedash.faces.detect import Policy, select


class SetReader:
    """The files of ``dataset`` as content hashes, with the store's rows for them.

    ``hashes`` (item index -> content hash), ``detections`` (hash -> Detection)
    and ``stored`` ((hash, face) -> embedding) fill up as chunks are read; the
    pipeline adds what it computes to the same dictionaries.
    """

    def __init__(
        self,
        store: Store,
        dataset: Dataset,
        *,
        det_key: str,
        align_key: str,
        model_id: str,
        policy: Policy,
    ) -> None:
        self.store, self.dataset, self.det_key, self.policy = store, dataset, det_key, policy
        self.hashes: dict[int, str] = {}
        self.detections: dict[str, Detection] = {}
        self.stored: dict[tuple[str, int], Any] = {}
        self.known = filehashes.known(store, dataset.items)
        if self.known:  # the whole set's rows in one read of the store, no file opened
            self.detections.update(store.get_detections(self.known.values(), det_key))
            keys = [
                (h, f)
                for h in dict.fromkeys(self.known.values())
                if h in self.detections
                for f in select(self.detections[h].faces, policy)
            ]
            self.stored.update(
                store.get_embeddings(keys, det_key=det_key, align_key=align_key, model_id=model_id)
            )

    def complete(self, image_hash: str | None) -> bool:
        """Whether a photo's detection and every selected face's embedding are stored."""
        if image_hash is None or image_hash not in self.detections:
            return False
        faces = select(self.detections[image_hash].faces, self.policy)
        return all((image_hash, f) in self.stored for f in faces)

    def read(
        self, indices: Sequence[int], failures: list[Failure], failed: set[int]
    ) -> dict[int, bytes]:
        """The bytes of the photos ``indices`` that still need work (the others are not opened).

        Unreadable files go to ``failures`` (their index to ``failed``). New hashes are
        remembered, and the stored detections of the photos read are looked up.
        """
        data: dict[int, bytes] = {}
        read_now: list[tuple[Any, tuple[int, int], str]] = []
        for i in indices:
            item = self.dataset.items[i]
            if self.complete(self.known.get(i)):
                self.hashes[i] = self.known[i]
                continue
            try:
                before = item.stat_now()
                data[i] = item.read()
                self.hashes[i] = content_hash(data[i])
            except ImageError as exc:
                failures.append(Failure(item.name, str(exc)))
                failed.add(i)
                continue
            if before is not None:
                read_now.append((item, before, self.hashes[i]))
        filehashes.remember(self.store, read_now)
        new = [self.hashes[i] for i in data if self.hashes[i] not in self.detections]
        self.detections.update(self.store.get_detections(new, self.det_key))
        return data

    def changes(self) -> str:
        """A sentence on how the folder changed while it was read, or "" (one more scan)."""
        changed, removed, added = self.dataset.changes_since_listed()
        parts = []
        if changed:
            parts.append(f"{len(changed)} photo(s) rewritten ({changed[0]} ...)")
        if removed:
            parts.append(f"{len(removed)} removed ({removed[0]} ...)")
        if added:
            parts.append(f"{len(added)} added ({added[0]} ...), not in this run")
        if not parts:
            return ""
        return (
            "The folder changed while it was being read: "
            + "; ".join(parts)
            + ". Each photo is shown as it was when read, and everything embedded is kept in "
            "the store: open the set again to see the folder as it is now."
        )
