"""Build the MiniLM workload's shipped data (run once; the results are committed).

    python training/minilm_data.py docstrings   # latte_rtl/data/minilm_docstrings.json (this Python's stdlib)
    python training/minilm_data.py calibrate    # latte_rtl/data/minilm_model.json: int8 scales, calibrated T
    python training/minilm_data.py reference    # latte_rtl/data/minilm_reference.npz (needs sentence-transformers)

docstrings: the retrieval task's pairs, from the standard library's public functions and
methods: query = the docstring's one-line summary, document = the rest of the docstring
(summary removed), kept when the document is 64..256 tokens long; deduplicated, shuffled with a
fixed seed; the first TEST pairs are the test set, the next CALIB documents the calibration set.
calibrate: static int8 scales per (layer, head) (max |q|, |k| / 127 over the calibration
documents, float pass) and head-wise relative thresholds calibrated at the keep target (for `dump`).
reference: the sentence-transformers embeddings (torch) of a few test texts, for the parity test.
"""

import importlib
import inspect
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]
from latte_rtl.workloads.minilm import load_minilm, model_dir, tokenize  # noqa: E402
from latte_rtl.workloads.retrieval import DOCSTRINGS, REFERENCE, load_pairs  # noqa: E402

MODULES = sorted("""argparse ast asyncio.base_events asyncio.streams asyncio.tasks base64 bisect calendar cmd codecs
collections concurrent.futures configparser contextlib copy csv dataclasses datetime decimal difflib dis email.message
email.utils enum filecmp fnmatch fractions ftplib functools getopt gettext glob gzip hashlib heapq hmac html.parser
http.client http.cookiejar http.server imaplib importlib.metadata inspect io ipaddress itertools json logging
logging.handlers lzma mailbox mimetypes multiprocessing.pool netrc numbers operator optparse os os.path pathlib pdb
pickle pickletools pkgutil platform plistlib poplib pprint profile pstats queue random re reprlib sched secrets
selectors shelve shlex shutil smtplib socket socketserver sqlite3 ssl statistics string struct subprocess symtable
sysconfig tarfile tempfile textwrap threading timeit tokenize trace traceback types typing unittest.case
unittest.mock urllib.parse urllib.request uuid warnings wave weakref xml.dom.minidom xml.etree.ElementTree zipfile
zoneinfo""".split())
TEST, CALIB, SEED = 200, 32, 0
MIN_TOKENS, MAX_TOKENS = 64, 256


def _callables(module):
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj):
            for meth, fn in sorted(vars(obj).items()):
                if not meth.startswith("_") and inspect.isfunction(fn):
                    yield f"{module.__name__}.{name}.{meth}", fn
        elif inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj


def candidates():
    """(qualified name, summary, document) of every docstring with a one-line summary and a body."""
    seen = set()
    for mod_name in MODULES:
        module = importlib.import_module(mod_name)
        for qualname, fn in _callables(module):
            doc = inspect.getdoc(fn)
            if not doc or "\n\n" not in doc:
                continue
            summary, body = doc.split("\n\n", 1)
            summary, body = " ".join(summary.split()), body.strip()
            if "\n" in doc.split("\n\n", 1)[0] or len(summary.split()) < 4 or body in seen:
                continue
            seen.add(body)
            yield qualname, summary, body


def build_docstrings() -> None:
    pairs = list(candidates())
    lengths = [len(ids) for ids in tokenize(body for _, _, body in pairs)]
    pairs = [p for p, n in zip(pairs, lengths) if MIN_TOKENS <= n < MAX_TOKENS]
    order = np.random.default_rng(SEED).permutation(len(pairs))
    chosen = [pairs[i] for i in order[:TEST + CALIB]]
    data = {"source": f"Python {sys.version.split()[0]} standard library docstrings ({len(MODULES)} modules), "
                      f"documents of {MIN_TOKENS}..{MAX_TOKENS - 1} tokens, seed {SEED}",
            "test": [{"name": n, "query": s, "document": b} for n, s, b in chosen[:TEST]],
            "calib": [{"name": n, "document": b} for n, _, b in chosen[TEST:]]}
    DOCSTRINGS.write_text(json.dumps(data, indent=0, ensure_ascii=False) + "\n")
    print(f"{len(pairs)} candidate pairs; wrote {TEST} test pairs and {CALIB} calibration documents to {DOCSTRINGS}")


def build_calibration() -> None:
    from latte_rtl.workloads.evaluate import calibrated_thresholds, hh_statistics
    from latte_rtl.workloads.tasks import MINILM_KEEP, MINILM_META, load_task, static_scales

    model = load_minilm()
    calib = tokenize(load_pairs("calib")[1])
    meta = json.loads(MINILM_META.read_text()) if MINILM_META.is_file() else {}
    meta["int8_scales"] = static_scales(model.forward, model.n_layers, model.n_heads, model.head_dim, calib,
                                        8).tolist()
    meta["int8_scales_from"] = f"max |q|, |k| / 127 over the {len(calib)} calibration documents (float pass)"
    MINILM_META.write_text(json.dumps(meta, indent=1) + "\n")
    task = load_task("minilm", 1)  # with the scales just written
    meta["calibrated_thresholds"] = {"target_keep": MINILM_KEEP, "values": calibrated_thresholds(
        hh_statistics(task, task.calib), MINILM_KEEP).tolist()}
    MINILM_META.write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {MINILM_META}")


def build_reference() -> None:
    import sentence_transformers
    import torch
    from sentence_transformers import SentenceTransformer

    queries, documents = load_pairs("test", 4)
    texts = queries[:2] + documents[:2]
    model = SentenceTransformer(str(model_dir()), device="cpu")
    emb = model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    np.savez_compressed(REFERENCE, texts=np.array(texts), embeddings=emb.astype(np.float32),
                        torch_version=np.array(torch.__version__),
                        library=np.array(f"sentence-transformers {sentence_transformers.__version__}"))
    print(f"wrote {REFERENCE} ({len(texts)} texts) with torch {torch.__version__}")


if __name__ == "__main__":
    {"docstrings": build_docstrings, "calibrate": build_calibration, "reference": build_reference}[sys.argv[1]]()
