"""The dataset registry: a plain dict of named corpora, their files, splits and checksums."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import readers


def digest(path: Path, algo: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (files may be large archives)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algo).hexdigest()


@dataclass(frozen=True)
class Source:
    """Where a corpus comes from when it is not in the data directory."""

    url: str
    checksum: str  # "sha256:..." or "md5:..." of the downloaded file
    # how to turn the download into the local layout: "copy" (the file itself), or the name of
    # a converter in download.py (unpacks an archive, writes the files listed in `files`)
    unpack: str = "copy"


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    folder: str
    files: dict[str, str]  # file name -> sha256 of the file as the registry knows it
    splits: dict[str, tuple[str, ...]]  # split name -> the files it reads
    read: Callable[[Path, str], tuple[list[str], list]]  # (folder, split) -> (texts, labels of the task)
    sources: dict[str, Source] = field(default_factory=dict)  # file name(s) -> source
    label_names: dict[str, str] | None = None  # raw label -> class name, in class order
    test_fraction: float | None = None  # carve a test split from train when there is none
    task: str = "classify"  # classify | multilabel | regression: what the labels are (see readers)
    language: str | None = None  # the texts' language (ISO 639 code) where known; a run's model card states it


def _ag_news(folder: Path, split: str):
    return readers.read_delimited(folder / f"{split}.csv", ",", label_column="0", text_columns=["1", "2"], header=False)


def _jsonl(prefix: str, folder: Path, split: str):
    return readers.read_jsonl(folder / f"{prefix}{split}.jsonl.gz")


def _sst2(folder: Path, split: str):
    # GLUE's TSV quotes nothing: its bare quotes are text
    return readers.read_delimited(folder / f"{split}.tsv", "\t", text_columns=["sentence"], header=True, quotechar="")


def _trec(folder: Path, split: str):
    name = {"train": "train_5500.label", "test": "TREC_10.label"}[split]
    return readers.read_label_first(folder / name, encoding="latin-1", label_sep=":")


def _imdb_rating(folder: Path, split: str):
    return readers.read_jsonl(folder / f"aclImdb_{split}.jsonl.gz", label_column="rating", task="regression")


# Reuters-21578 Distribution 1.0: 22 SGML files; ModApte is a split by story attribute, not by file
REUTERS_SGM = {
    "reut2-000.sgm": "9ff9bb40624ef992a03f62aace12e697dca1087abfd9b4d06aa787a6ad3e0687",
    "reut2-001.sgm": "1528e7e82d110d88d0234eb9619eadb7f9fd805711971df05975b92277dfdf4d",
    "reut2-002.sgm": "99f18068d0518952987dedd78c622e5c2a584e357d264d3754696c815f3e6628",
    "reut2-003.sgm": "78a3a8d7e04bc9d42c4614d5d5c60a4293dbe3f708df6fb5a71d9ef31f4b3fa3",
    "reut2-004.sgm": "726342c19a65873330b412378cd6a3f0d512035f5223146ddd60930c62eb6ff0",
    "reut2-005.sgm": "d09de619b6dd2d047d5124681f6df90550abaf592020d1c1ce338ae9b91522e7",
    "reut2-006.sgm": "b5535c0d66b01f4976f84621a4a795afbc00d2c4bd0a1b7ae426df6630fb361d",
    "reut2-007.sgm": "aa706007ec84a03537a3921ca976d60e11b3f99e4b9e9b2d5c81dd384d2c2062",
    "reut2-008.sgm": "a3994583694a00b7c744097c1d7eabfcf90f2e6650cc21663e46828035a336cb",
    "reut2-009.sgm": "29995f606dd1a9bdf907eacc9d879846c716860d9d9141676979474aaea39c7d",
    "reut2-010.sgm": "996df6008089bd09fa5b28a4d2eb0ee5f7b9d4601cde566fed3926ac82960fa3",
    "reut2-011.sgm": "d3a2782015247d9c2bffb8926267827fdd449c70d619435ef01a25a1c56a53ca",
    "reut2-012.sgm": "da31035d483851f2aebce5b66d779e5e2c0ac9dcfe098596c6d544e81c5604ab",
    "reut2-013.sgm": "8f7700bc0455fac3fcc12377ced4807b7df8aba1f21ecad059b9cc2b1cf0b8be",
    "reut2-014.sgm": "ef936bd3e0f36cf722afa9a6957563549775af32e9e28b4f539c8737ceda83ab",
    "reut2-015.sgm": "6d3bcec73eff871b8a5403588af814c4e50a0de6bc25707480522ab836f74026",
    "reut2-016.sgm": "be2f03a185fff70131f3b4fdbd6229b7ee2be077eba9691eaa597c8cfbda8812",
    "reut2-017.sgm": "f370e610b4b1342e41a98e0c426a08541044bd1d7e539674f32372a6060b73b5",
    "reut2-018.sgm": "a5f971bf25448e915781962309e669359a35fbcaf3017a806eca0590897f209a",
    "reut2-019.sgm": "d3b07097fba2633d130b4914aceba671645985248943ce9e39c289315339dffb",
    "reut2-020.sgm": "f6ad1b724125c202566c63b35ea0b5ee23881f8b7ed47a32829d5af05d8e860d",
    "reut2-021.sgm": "3f5196d32869723c9042aa5756805b4e90360f1f45ea17f4594fa0e2b3630b18",
}


def modapte(stories: list[dict], split: str) -> tuple[list[str], list[list[str]]]:
    """The ModApte `split` ("train" | "test") of Reuters-21578, restricted to R90: the topics with at least
    one train and one test story, and the stories with at least one of them (labels: those topics, sorted)."""
    apte = [s for s in stories if s["topics_attr"] == "YES" and s["lewissplit"] in ("TRAIN", "TEST")]
    train_topics = {t for s in apte if s["lewissplit"] == "TRAIN" for t in s["topics"]}
    test_topics = {t for s in apte if s["lewissplit"] == "TEST" for t in s["topics"]}
    r90 = train_topics & test_topics
    kept = [(s["text"], sorted(r90.intersection(s["topics"]))) for s in apte if s["lewissplit"] == split.upper()]
    kept = [(text, topics) for text, topics in kept if topics]
    return [text for text, _ in kept], [topics for _, topics in kept]


def _reuters(folder: Path, split: str):
    return modapte([story for name in REUTERS_SGM for story in readers.read_reuters_sgm(folder / name)], split)


def _polarity(folder: Path, split: str):
    pos = readers.read_lines(folder / "rt-polarity.pos", "pos", encoding="latin-1")
    neg = readers.read_lines(folder / "rt-polarity.neg", "neg", encoding="latin-1")
    return neg[0] + pos[0], neg[1] + pos[1]


def _masakhanews(folder: Path, split: str):
    """headline + text, as the paper classifies; fields quoted as CSV quotes them (pandas' TSV)."""
    name = {"train": "train.tsv", "valid": "dev.tsv", "test": "test.tsv"}[split]
    return readers.read_delimited(folder / name, "\t", label_column="category", text_columns=["headline", "text"],
                                  quotechar='"')


def _chinese(name: str, label: str, folder: Path, split: str):
    # online_shopping_10_cats has one row with an empty review: dropped, and said so
    return readers.read_delimited(folder / name, ",", label_column=label, text_columns=["review"], on_bad_row="skip")


_GH = "https://raw.githubusercontent.com"
MASAKHANEWS_COMMIT = "819be052e79e0a600e0ed4a7356594681cb5c4f3"
# MasakhaNEWS (Adelani et al. 2023): language -> (its name, sha256 of train.tsv, dev.tsv, test.tsv)
MASAKHANEWS = {
    "ibo": ("Igbo", "a26239aefe170350816dbd9fd7725cadd97891be398e834a5d9b7b263df8c69d",
            "d3d2db2d4f558508c5cfe38e5b27b3a4a532be93919986fb104c8a47ffc68a0a",
            "448c461a5c230a1f860807344983e785bc6b1e043d64701e1cd23d8da5a829cc"),
    "lin": ("Lingala", "cd5c8f9d5bb3c3107165c24b4fcc34fe17eb15fe117b7386735bc86120067a10",
            "ca48138c513c81d9a8e44508b99118931834a90924d887db0d35456ff1144602",
            "908feac73e888164a6ae9a9b4c239b9e625be841aa5444522fe2e2ac705eee7c"),
    "lug": ("Luganda", "48a4647c0fb3c61a2ddbac3c36e6d2e4baf41bad32b49b4b5fa555c172e6f3dd",
            "2c7eae3da302aec81649590c178e55961cb2ef06638352c7218e52735bbaf892",
            "4f9ea6f76f596e875b4f6cc17aa5758fa6f32cebe113a33a9da4d65d1cd6a43f"),
    "orm": ("Oromo", "038b64b085b9b2b51339845c11c8ac33b45899ee002b82aa5f855652f23f5344",
            "f4cafe5b6e332d3640a858676170383166318b92f4b686ed3455e179efdd29b0",
            "6efb3d3995a8dd808375dd4866f1b45e4129874e731faf2b285e46bfc332d7b3"),
    "pcm": ("Nigerian Pidgin", "1aa011e017994435f8f9da9f80050c220379ac3985e011230ad0721c8bd61846",
            "1735622f844efb837c2233526921be3ecf4f666cd9eacaa8add560de4f477037",
            "e0b90b84957bef7207400e89a407c3630c5e08c3cac605660401accdcd1ea92b"),
    "run": ("Rundi", "aed38e0075aeb2d714360c8320eb3c5087d40effcef05a7ec6ef14a562d60737",
            "2c16750062c19873b2892b518c0d51dea4f7a5ecdb84ea4f79780443cbf9ae8d",
            "0ae80c042763740c26a1c7b6f9b5f19ec16b175ac3ab72cda076475f7c60e98f"),
    "sna": ("chiShona", "eada07754d82fdc2a1981df2a37ffe50a2382ac552112fd92f66597a261df75d",
            "84a51b5f4018926f4d42b26776592bc6639e8dfcb7e846db2299e76db74887d7",
            "8a6a17fdfd74f4c5cbf584c954241f89ece01cc8459604587ee08155fd96e71c"),
    "som": ("Somali", "e2505c2c6ee1cd3ac5c7d69cdaf7241f26ea70a1cf611ef2f8123ecdbd0f8e6c",
            "e77c760a1e77cc83bfba338141cdd0b12f26e3a8921c64ee0738eaa7158a31b1",
            "ba62c5c97a2950c8fd4d67fdad366c268df4c720abad3ad7ca7adfc186fc1269"),
    "xho": ("isiXhosa", "2b01638bee3dca87557ffcbc7507dc1a2bec67e9e2b6426b1e7c87758dccf5f2",
            "d0f20df11816eb0281493548819ef2cdf126b0e10c78d0a23d16a1e97c250aa7",
            "5687dc04056e19403253e28ee52b921351c5cb0257aec21de0a23cb4f9f0ee9a"),
}
CHINESE_COMMIT = "a0b781d72158bde242c0626c9e354d2b328865ff"


def _masakhanews_spec(lang: str, name: str, train: str, dev: str, test: str) -> DatasetSpec:
    files = {"train.tsv": train, "dev.tsv": dev, "test.tsv": test}
    base = f"{_GH}/masakhane-io/masakhane-news/{MASAKHANEWS_COMMIT}/data/{lang}"
    return DatasetSpec(
        name=f"masakhanews_{lang}", language=lang,
        description=f"MasakhaNEWS (Adelani et al. 2023): news topics in {name}; headline + text",
        folder=f"masakhanews/{lang}", files=files,
        splits={"train": ("train.tsv",), "valid": ("dev.tsv",), "test": ("test.tsv",)},
        read=_masakhanews, sources={f: Source(f"{base}/{f}", f"sha256:{sha}") for f, sha in files.items()})


def _chinese_spec(name: str, file: str, sha: str, label: str, what: str, upstream: str) -> DatasetSpec:
    folder_url = f"{_GH}/SophonPlus/ChineseNlpCorpus/{CHINESE_COMMIT}/datasets"
    source = Source(f"{folder_url}/{upstream}", f"sha256:{sha}") if upstream.endswith(".csv") else \
        Source(f"{folder_url}/{upstream}", "", "zip")  # the archive's own checksum is not published; its member's is
    return DatasetSpec(
        name=name, language="zh",
        description=f"{what} (SophonPlus/ChineseNlpCorpus); no spaces between words; seeded 80/20 split",
        folder="chinese_nlp_corpus", files={file: sha}, splits={"train": (file,)},
        read=lambda folder, split: _chinese(file, label, folder, split), sources={file: source}, test_fraction=0.2)

REGISTRY: dict[str, DatasetSpec] = {
    "ag_news": DatasetSpec(
        name="ag_news",
        language="en",
        description="AG News topics (Zhang et al. 2015): World, Sports, Business, Sci/Tech",
        folder="ag_news",
        files={
            "train.csv": "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e",
            "test.csv": "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699",
        },
        splits={"train": ("train.csv",), "test": ("test.csv",)},
        read=_ag_news,
        sources={
            name: Source(f"{_GH}/mhjabreel/CharCnn_Keras/555590db4219b1243abb1918effd6a7425a2d75f/data/ag_news_csv/{name}",
                         f"sha256:{sha}")
            for name, sha in [("train.csv", "76a0a2d2f92b286371fe4d4044640910a04a803fdd2538e0f3f29a5c6f6b672e"),
                              ("test.csv", "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699")]
        },
        label_names={"1": "World", "2": "Sports", "3": "Business", "4": "Sci/Tech"},
    ),
    "20newsgroups": DatasetSpec(
        name="20newsgroups",
        language="en",
        description="20 Newsgroups, bydate release: Usenet posts in 20 groups (raw, headers included)",
        folder="20newsgroups",
        files={
            "20news-bydate-train.jsonl.gz": "2c48792c30956e4ef457b0893227b19a8cb746038e7339966e3133d555137f1f",
            "20news-bydate-test.jsonl.gz": "90106200502a6c662e12fa93f92bf50ffe67b3e480c7f1bb1912383e2d2e0e1b",
        },
        splits={"train": ("20news-bydate-train.jsonl.gz",), "test": ("20news-bydate-test.jsonl.gz",)},
        read=lambda folder, split: _jsonl("20news-bydate-", folder, split),
        sources={"20news-bydate-train.jsonl.gz 20news-bydate-test.jsonl.gz": Source(
            "https://ndownloader.figshare.com/files/5975967",
            "sha256:8f1b2514ca22a5ade8fbb9cfa5727df95fa587f4c87b786e15c759fa66d95610", "newsgroups_tarball")},
    ),
    "imdb": DatasetSpec(
        name="imdb",
        language="en",
        description="IMDb movie reviews (Maas et al. 2011): binary sentiment, 25k train / 25k test",
        folder="imdb",
        files={
            "aclImdb_train.jsonl.gz": "7f8be4ea3083fec369d5589233f4c05dce9653d69cea2ec4507003d148ca530f",
            "aclImdb_test.jsonl.gz": "ecaf17dba6674554a48b8b5ff5665cb2936d629704263d64bc15733a82814dbf",
        },
        splits={"train": ("aclImdb_train.jsonl.gz",), "test": ("aclImdb_test.jsonl.gz",)},
        read=lambda folder, split: _jsonl("aclImdb_", folder, split),
        sources={"aclImdb_train.jsonl.gz aclImdb_test.jsonl.gz": Source(
            "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            "md5:7c2ac02c03563afcf9b574c7e56c153a", "imdb_tarball")},
        label_names={"neg": "neg", "pos": "pos"},
    ),
    "imdb_rating": DatasetSpec(
        name="imdb_rating",
        language="en",
        description="IMDb movie reviews (Maas et al. 2011): the star rating (1-4, 7-10) as a regression target",
        folder="imdb",  # the same files as `imdb`, another field of them
        files={
            "aclImdb_train.jsonl.gz": "7f8be4ea3083fec369d5589233f4c05dce9653d69cea2ec4507003d148ca530f",
            "aclImdb_test.jsonl.gz": "ecaf17dba6674554a48b8b5ff5665cb2936d629704263d64bc15733a82814dbf",
        },
        splits={"train": ("aclImdb_train.jsonl.gz",), "test": ("aclImdb_test.jsonl.gz",)},
        read=_imdb_rating,
        sources={"aclImdb_train.jsonl.gz aclImdb_test.jsonl.gz": Source(
            "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            "md5:7c2ac02c03563afcf9b574c7e56c153a", "imdb_tarball")},
        task="regression",
    ),
    "reuters21578": DatasetSpec(
        name="reuters21578",
        language="en",
        description="Reuters-21578 newswire, ModApte split, the 90 topics of R90 (multi-label)",
        folder="reuters21578",
        files=REUTERS_SGM,
        # every story carries its own LEWISSPLIT, so both splits read all files
        splits={"train": tuple(REUTERS_SGM), "test": tuple(REUTERS_SGM)},
        read=_reuters,
        # UCI publishes no checksum of the tarball; each .sgm in it is checked against REUTERS_SGM
        sources={" ".join(REUTERS_SGM): Source(
            "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz", "", "reuters_tarball")},
        task="multilabel",
    ),
    "sst2": DatasetSpec(
        name="sst2",
        language="en",
        description="SST-2 (GLUE): binary sentiment of movie-review sentences; GLUE dev is the test split here",
        folder="sst2",
        files={
            "train.tsv": "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1",
            "dev.tsv": "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0",
        },
        # GLUE's own test split has no labels, so its dev split is the one to report on
        splits={"train": ("train.tsv",), "test": ("dev.tsv",)},
        read=lambda folder, split: _sst2(folder, "dev" if split == "test" else split),
        sources={"train.tsv dev.tsv": Source("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip", "", "glue_zip")},
        label_names={"0": "negative", "1": "positive"},
    ),
    "trec": DatasetSpec(
        name="trec",
        language="en",
        description="TREC question classification (Li & Roth 2002), 6 coarse classes",
        folder="trec",
        files={
            "train_5500.label": "9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
            "TREC_10.label": "033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
        },
        splits={"train": ("train_5500.label",), "test": ("TREC_10.label",)},
        read=_trec,
        sources={
            "train_5500.label": Source("https://cogcomp.seas.upenn.edu/Data/QA/QC/train_5500.label",
                                       "md5:073462e3fcefaae31e00edb1f18d2d02"),
            "TREC_10.label": Source("https://cogcomp.seas.upenn.edu/Data/QA/QC/TREC_10.label",
                                    "md5:323a3554401d86e650717e2d2f942589"),
        },
        label_names={k: k for k in ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]},
    ),
    "movie_review_polarity": DatasetSpec(
        name="movie_review_polarity",
        language="en",
        description="Movie-review sentence polarity v1.0 (Pang & Lee 2005); no official split",
        folder="movie_review_polarity",
        files={
            "rt-polarity.pos": "2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
            "rt-polarity.neg": "4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
        },
        splits={"train": ("rt-polarity.pos", "rt-polarity.neg")},
        read=_polarity,
        sources={"rt-polarity.pos rt-polarity.neg": Source(
            "https://www.cs.cornell.edu/people/pabo/movie-review-data/rt-polaritydata.tar.gz", "", "polarity_tarball")},
        label_names={"neg": "neg", "pos": "pos"},
        test_fraction=0.1,
    ),
}


REGISTRY |= {f"masakhanews_{lang}": _masakhanews_spec(lang, *info) for lang, info in MASAKHANEWS.items()}
REGISTRY |= {
    "online_shopping_10_cats": _chinese_spec(
        "online_shopping_10_cats", "online_shopping_10_cats.csv",
        "f6c5b724122d8547b700ac4524898eb7e28abbee63f798e95a8faa408829afdb", "cat",
        "Chinese product reviews from 10 shop categories", "online_shopping_10_cats/online_shopping_10_cats.zip"),
    "chnsenticorp": _chinese_spec(
        "chnsenticorp", "ChnSentiCorp_htl_all.csv", "1d414b9c65caf3a836abdb4efded621968502ad3338e1a9d885ae131c86083f0",
        "label", "Chinese hotel reviews, sentiment (ChnSentiCorp)", "ChnSentiCorp_htl_all/ChnSentiCorp_htl_all.csv"),
    "waimai_10k": _chinese_spec(
        "waimai_10k", "waimai_10k.csv", "b8b5c11c00b51578d35937fca56e03a126b45381f1ea4b22893237cb377a26fe",
        "label", "Chinese food-delivery reviews, sentiment", "waimai_10k/waimai_10k.csv"),
}


def default_data_dir() -> Path:
    """--data-dir, else $DOCCAT_DATA_DIR, else ../shared/datasets beside this checkout, else a cache dir."""
    if os.environ.get("DOCCAT_DATA_DIR"):
        return Path(os.environ["DOCCAT_DATA_DIR"])
    shared = Path(__file__).resolve().parents[4] / "shared" / "datasets"
    if shared.is_dir():
        return shared
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "doccat" / "datasets"


def get(name: str) -> DatasetSpec:
    if name not in REGISTRY:
        raise readers.DataError(f"unknown dataset {name!r}; known: {', '.join(REGISTRY)}")
    return REGISTRY[name]
