"""The universal mapper (issue 18) on tiny generators and a tiny random CLIP.

Shape and α linearity, α = 0 identity, exact resume, pair supervision on a generator that
computes the portrait code, and the file's identity checks.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch

from stylepaint.clip import load_clip
from stylepaint.engine import stylespace
from stylepaint.engine.networks import Generator
from stylepaint.errors import DataFileError, InputError
from stylepaint.portraits.latent_code import write_mapping
from stylepaint.styleclip.phrasings import canonical, targets
from stylepaint.styleclip.universal_mapper import condition, load_universal, save_universal
from stylepaint.styleclip.universal_training import (LR_FLOOR, UniversalParams, learning_rate, pair_batch,
                                                     train_universal)
from stylepaint.tag_faces import portrait_code
from stylepaint.training import checkpoint as ckpt

GROUPS = ("hair_color", "eyewear")
FAST = UniversalParams(steps=4, batch=2, reader_batch=16, hidden=16, groups=GROUPS, snap_steps=3, seed=1)


@pytest.fixture
def clip(tiny_clip_spec, one_torch_thread):
    return load_clip(tiny_clip_spec)


@pytest.fixture(scope="module")
def code_generator():
    """A 16 px generator whose mapping computes the portrait code (random synthesis)."""
    torch.manual_seed(0)
    G = Generator(z_dim=128, w_dim=128, img_resolution=16, mapping_layers=2, channel_base=64, channel_max=8)
    write_mapping(G)
    G.model_id = "tiny-code-generator"
    return G.eval().requires_grad_(False)


def last(job):
    infos = list(job)
    assert infos[-1].get("finished"), infos[-1]
    return infos


def test_output_shape_alpha_linearity_and_identity(tiny_generator, clip, tmp_path):
    G = tiny_generator
    model = last(train_universal(G, clip, tmp_path / "run", FAST))[-1]["mapper"]
    ws = stylespace.seed_to_ws(G, 3).repeat(2, 1, 1)
    cond = condition(clip, "a portrait of a person with red hair", "a portrait of a person")
    d1 = model(ws, cond)
    assert d1.shape == ws.shape and d1.abs().max() > 0
    assert torch.allclose(model(ws, cond, alpha=2.5), 2.5 * d1, atol=1e-6)
    assert torch.equal(model(ws, cond, alpha=0.0), torch.zeros_like(ws))
    s1 = model.shift(G, ws, cond)
    assert s1.shape == (2, sum(l.channels for l in G.style_layers))
    assert torch.allclose(model.shift(G, ws, cond, alpha=-3.0), -3.0 * s1, atol=1e-5)
    # another text moves the face differently: the text conditions the edit
    assert not torch.allclose(model(ws, condition(clip, "glasses")), d1)
    # per-sample conditions
    both = model(ws, torch.stack([cond, condition(clip, "glasses")]))
    assert torch.allclose(both[0], d1[0], atol=1e-6)


def test_training_resumes_exactly(tiny_generator, clip, tmp_path):
    G = tiny_generator
    params = replace(FAST, steps=6, snap_steps=100)
    whole = last(train_universal(G, clip, tmp_path / "whole", params))
    job = train_universal(G, clip, tmp_path / "cut", params)
    for info in job:
        if info["done"] == 2:
            break
    job.close()                                   # stopping keeps what was learnt
    assert ckpt.read_state(tmp_path / "cut")["step"] == 2
    cut = last(train_universal(G, clip, tmp_path / "cut", resume=True))
    assert cut[-1]["losses"] == whole[-1]["losses"]
    a, _ = ckpt.load_checkpoint(tmp_path / "whole")
    b, state = ckpt.load_checkpoint(tmp_path / "cut")
    assert state["chunks"] == 1 and state["step"] == 6
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # a finished run extends with more steps; a used folder is not overwritten
    assert last(train_universal(G, clip, tmp_path / "cut", resume=True, steps=7))[-1]["done"] == 7
    with pytest.raises(InputError, match="already holds"):
        train_universal(G, clip, tmp_path / "cut", params)


def test_a_decay_started_on_resume_trains_as_if_planned_from_the_start(tiny_generator, clip, tmp_path):
    G = tiny_generator
    params = replace(FAST, steps=6, snap_steps=100)
    planned = last(train_universal(G, clip, tmp_path / "planned", replace(params, decay_from=3)))
    constant = last(train_universal(G, clip, tmp_path / "constant", params))
    job = train_universal(G, clip, tmp_path / "cut", params)        # started without a decay
    for info in job:
        if info["done"] == 3:
            break
    job.close()
    resumed = last(train_universal(G, clip, tmp_path / "cut", resume=True, decay_from=3))
    assert resumed[-1]["losses"] == planned[-1]["losses"]
    assert planned[-1]["losses"][:4] == constant[-1]["losses"][:4]  # same until the decay acts
    assert planned[-1]["losses"][4:] != constant[-1]["losses"][4:]
    assert ckpt.read_state(tmp_path / "cut")["params"]["decay_from"] == 3
    rates = [learning_rate(replace(params, decay_from=3), s) for s in range(6)]
    assert rates[:4] == [params.lr] * 4 and rates[3] > rates[4] > rates[5] >= params.lr * LR_FLOOR
    with pytest.raises(InputError, match="decay"):
        replace(params, decay_from=6)


def test_a_resume_may_change_batch_and_rate_for_the_steps_to_come(tiny_generator, clip, tmp_path):
    G = tiny_generator
    params = replace(FAST, steps=3, snap_steps=100)
    same = last(train_universal(G, clip, tmp_path / "same", params))
    last(train_universal(G, clip, tmp_path / "tuned", params))
    kept = last(train_universal(G, clip, tmp_path / "same", resume=True, steps=5))
    tuned = last(train_universal(G, clip, tmp_path / "tuned", resume=True, steps=5, batch=6, lr=params.lr / 3,
                                 clip_every=0))
    assert tuned[-1]["losses"][:3] == same[-1]["losses"] == kept[-1]["losses"][:3]
    assert tuned[-1]["losses"][3:] != kept[-1]["losses"][3:]          # the new phase trains differently
    state = ckpt.read_state(tmp_path / "tuned")
    assert state["step"] == 5 and state["params"]["batch"] == 6 and state["params"]["lr"] == params.lr / 3
    assert state["params"]["clip_every"] == 0
    assert any(k.startswith("clip_") for k in kept[-2]["parts"]) and not any(k.startswith("clip_") for k in tuned[-2]["parts"])
    with pytest.raises(InputError, match="batch"):
        train_universal(G, clip, tmp_path / "tuned", resume=True, steps=6, batch=0)


def test_a_time_limit_stops_and_says_so(tiny_generator, clip, tmp_path):
    infos = list(train_universal(tiny_generator, clip, tmp_path / "run", FAST, minutes=1e-6))
    assert infos[-1]["stopped"] and not infos[-1]["finished"] and infos[-1]["done"] == 1
    assert "resume" in infos[-1]["message"]


def test_pairs_are_exact_and_supervise_the_mapper(code_generator, clip, tmp_path):
    G = code_generator
    code = portrait_code(G)
    assert code is not None
    z = torch.randn(4, 128, generator=torch.Generator().manual_seed(5))
    wanted = [("hair_color", "red"), ("eyewear", "glasses"), ("hair_color", "blue"), ("eyewear", "none")]
    ws, delta = pair_batch(G, code, z, wanted, 1.0)
    after = code.decode((ws + delta)[:, 0].double().numpy())
    before = code.decode(ws[:, 0].double().numpy())
    for (g, v), a, b in zip(wanted, after, before):
        assert a["attributes"][g] == v
        assert {k: x for k, x in a["attributes"].items() if k != g} == {k: x for k, x in b["attributes"].items() if k != g}
    params = replace(FAST, steps=160, clip_every=0, lr=3e-3, batch=8, hidden=64, pixel=0.5)
    infos = last(train_universal(G, clip, tmp_path / "run", params))
    model = infos[-1]["mapper"]
    assert model.info["pairs"] is True and {"pair", "pixel"} <= set(infos[0]["parts"])
    # on fresh faces and the canonical texts, the edit lands nearer the true "after" than no edit
    z = torch.randn(32, 128, generator=torch.Generator().manual_seed(11))
    wanted = [targets(GROUPS)[i % len(targets(GROUPS))] for i in range(32)]
    ws, true = pair_batch(G, code, z, wanted, params.truncation)
    conds = torch.stack([condition(clip, *canonical(g, v)) for g, v in wanted])
    with torch.no_grad():
        err = (model(ws, conds) - true).pow(2).sum(-1).mean()
    assert err < 0.85 * true.pow(2).sum(-1).mean()


def test_the_clip_loss_skips_absences_where_pairs_teach_them(code_generator, tiny_generator, clip, tmp_path,
                                                            monkeypatch):
    from stylepaint.styleclip import universal_training
    from stylepaint.styleclip.phrasings import absences

    used = []
    real = universal_training.Objective

    def recording(G, clip, text, neutral, *args):
        used.append(text)
        return real(G, clip, text, neutral, *args)

    monkeypatch.setattr(universal_training, "Objective", recording)
    params = replace(FAST, steps=40, snap_steps=1000, pixel=0.0, groups=("eyewear",))    # one text a step: few texts
    corpus = universal_training._Corpus(clip, params.groups)
    absent = {corpus.cond_texts[i][0] for i, t in enumerate(corpus.cond_target.tolist())
              if corpus.targets[t] in absences()}
    assert absent and "a portrait of a person with no glasses" in absent
    last(train_universal(code_generator, clip, tmp_path / "pairs", params))
    assert used and not set(used) & absent                 # pairs teach "no glasses"
    used.clear()
    last(train_universal(code_generator, clip, tmp_path / "all", replace(params, clip_absences=True)))
    assert set(used) & absent
    used.clear()
    last(train_universal(tiny_generator, clip, tmp_path / "no-pairs", params))
    assert set(used) & absent                              # without pairs the CLIP loss is all there is


def test_saved_file_reloads_and_refuses_another_model(tiny_generator, code_generator, clip, tmp_path):
    model = last(train_universal(tiny_generator, clip, tmp_path / "run", FAST))[-1]["mapper"]
    path = tmp_path / "run" / "universal-mapper.safetensors"
    loaded = load_universal(path, tiny_generator, clip)
    ws = stylespace.seed_to_ws(tiny_generator, 1)
    cond = condition(clip, "blue hair")
    assert torch.equal(loaded(ws, cond), model(ws, cond))
    assert loaded.targets == targets(GROUPS)
    with pytest.raises(DataFileError, match="another model"):
        load_universal(path, code_generator, clip)
    (tmp_path / "junk.safetensors").write_bytes(b"nothing")
    with pytest.raises(DataFileError, match="not a stylepaint universal mapper"):
        load_universal(tmp_path / "junk.safetensors", tiny_generator, clip)
    save_universal(model, tmp_path / "copy.safetensors")
    assert load_universal(tmp_path / "copy.safetensors", tiny_generator, clip).info == model.info


def test_shipping_installs_beside_the_default_with_its_manifest_entry(tiny_generator, clip, tmp_path, monkeypatch):
    import json

    from stylepaint import paths
    from stylepaint.styleclip.universal_mapper import FILE_NAME, find_universal, ship_universal

    last(train_universal(tiny_generator, clip, tmp_path / "run", FAST))
    run_file = tmp_path / "run" / FILE_NAME
    models = tmp_path / "models"
    models.mkdir()
    monkeypatch.setattr(paths, "MODELS_DIR", models)
    # a model outside the models folder carries no shipped mapper
    with pytest.raises(InputError, match="only the embedded default"):
        ship_universal(run_file, tiny_generator, clip)
    assert not (models / FILE_NAME).exists()
    G = replace_source(tiny_generator, models / "default.safetensors")
    entry = ship_universal(run_file, G, clip, {"pairs": {"oracle": 0.9}})
    assert (models / FILE_NAME).read_bytes() == run_file.read_bytes()
    listed = json.loads((models / "manifest.json").read_text())[FILE_NAME]
    assert listed == entry and entry["role"] == "universal-mapper" and entry["steps"] == FAST.steps
    assert entry["bytes"] == run_file.stat().st_size and entry["train_seconds"] > 0
    assert entry["metrics"] == {"pairs": {"oracle": 0.9}}
    assert find_universal(G, clip) == models / FILE_NAME   # no user-trained one: the shipped one is found


def replace_source(G, path):
    import copy

    G2 = copy.copy(G)
    G2.source_path = str(path)
    return G2


def test_the_sentence_encoder_knows_wording_the_portrait_vocabulary_never_taught():
    from stylepaint.styleclip import sentences

    assert sentences.available(), sentences.missing_message()
    e = sentences.embed(["take off the glasses", "remove the glasses", "make the hair red", "put a cap on her",
                         "add a hat"])
    assert e.shape == (5, sentences.DIM) and torch.allclose(e.norm(dim=1), torch.ones(5), atol=1e-4)
    sim = e @ e.T
    assert sim[0, 1] > sim[0, 2] + 0.2          # "take off" reads like "remove", not like a hair colour
    assert sim[3, 4] > sim[3, 2]                # a cap is headwear


def test_a_new_reader_reads_sentences_and_keeps_the_mapper(tiny_generator, clip, tmp_path):
    from stylepaint.styleclip.instructions import understand
    from stylepaint.styleclip.universal_mapper import reader_input
    from stylepaint.styleclip.universal_training import train_reader

    G = tiny_generator
    model = last(train_universal(G, clip, tmp_path / "run", FAST))[-1]["mapper"]
    assert model.sentence_dim == 0
    new = train_reader(model, clip, sentence=True, steps=300)
    assert new.sentence_dim == 2 * 384 and new.glosses and new.info["reader"]["sentence"]
    ws = stylespace.seed_to_ws(G, 3)
    cond = condition(clip, "a portrait of a person with red hair", "a portrait of a person")
    assert torch.equal(new(ws, cond), model(ws, cond))          # the mapper itself is untouched
    texts = ["make the hair red", "remove her glasses", "red hair"]
    x = reader_input(new, clip, texts)
    assert x.shape == (3, clip.embed_dim + 2 * 384)          # the CLIP, the sentence encoder, the glosses
    got = [(understand(new, clip, t).group, understand(new, clip, t).value) for t in texts]
    assert got == [("hair_color", "red"), ("eyewear", "none"), ("hair_color", "red")]
    path = save_universal(new, tmp_path / "u.safetensors")
    again = load_universal(path, G, clip)
    assert again.sentence_dim == 2 * 384 and again.glosses
    assert torch.equal(again.read(x)["logits"], new.read(x)["logits"])
    with pytest.raises(ValueError, match="reader input"):
        new.read(x[:, :clip.embed_dim])
    # five readers trained apart; the reading is their mean probability
    each = new.read(x, members=True)
    k = len(new.targets) + 1
    assert new.reader_members == 5 and each["logits"].shape == (5, 3, k)
    assert not torch.allclose(each["logits"][0], each["logits"][1])
    assert torch.allclose(new.read(x)["logits"].exp(), each["logits"].softmax(-1).mean(0), atol=1e-6)
    assert torch.allclose(new.read(x)["strength"], each["strength"].mean(0))
    # one member without glosses is the plain reader of before
    one = train_reader(model, clip, sentence=True, steps=50, members=1, glosses=False)
    x = reader_input(one, clip, texts)
    assert x.shape == (3, clip.embed_dim + 384) and not one.glosses
    assert one.reader_members == 1 and one.read(x, members=True)["logits"].shape == (1, 3, k)
    assert torch.equal(load_universal(save_universal(one, tmp_path / "one.safetensors"), G, clip).read(x)["logits"],
                       one.read(x)["logits"])


def test_one_view_keeps_one_encoder_on_a_share_of_the_rows(tiny_generator, clip, tmp_path):
    from stylepaint.styleclip.universal_training import one_view, train_reader

    emb = torch.rand(4000, 10) + 0.1
    out = one_view(emb, 4, 0.5, torch.Generator().manual_seed(0))
    clip_gone = (out[:, :4] == 0).all(1)
    sentence_gone = (out[:, 4:] == 0).all(1)
    assert not (clip_gone & sentence_gone).any()
    assert abs(clip_gone.float().mean() - 0.25) < 0.03 and abs(sentence_gone.float().mean() - 0.25) < 0.03
    both = ~(clip_gone | sentence_gone)
    assert torch.equal(out[both], emb[both]) and torch.equal(out[clip_gone, 4:], emb[clip_gone, 4:])
    assert torch.equal(one_view(emb, 4, 0.0), emb) and torch.equal(one_view(emb, 10, 0.5), emb)   # no second encoder
    model = last(train_universal(tiny_generator, clip, tmp_path / "run", FAST))[-1]["mapper"]
    new = train_reader(model, clip, sentence=True, steps=20, members=1, views=0.5)
    assert new.info["reader"]["views"] == 0.5
    with pytest.raises(InputError, match="one encoder"):
        train_reader(model, clip, steps=5, members=1, views=1.5)


def test_the_readers_captions_hold_no_held_out_wording():
    import re

    from stylepaint.styleclip.phrasings import caption_phrasings, heldout_wording, phrasings

    caps = caption_phrasings()
    words, template_words = heldout_wording()
    assert len(caps) > 300 and {"specs", "platinum", "azure"} <= words and {"someone", "whose"} <= template_words
    held = {p.text for p in phrasings("heldout")}
    train = {p.text: (p.group, p.value) for p in phrasings("train")}
    for p in caps:
        tokens = set(re.split(r"[\s,-]+", p.text.lower()))
        assert not tokens & template_words, p.text
        assert not any(re.search(r"(?<![\w-])" + re.escape(w) + r"(?![\w-])", p.text.lower()) for w in words), p.text
        assert p.text not in held and train.get(p.text, (p.group, p.value)) == (p.group, p.value)
        assert p.kind == "description" and (p.group, p.value) in set(targets())


def test_masked_texts_make_up_the_attribute_word_and_nothing_else():
    import random
    import re

    from stylepaint.styleclip.phrasings import UNKNOWN, group_words, heldout_wording, masked_text, phrasings

    rng = random.Random(0)
    train = [p for p in phrasings("train") if p.group != UNKNOWN]
    masked = {p.text: masked_text(p, rng) for p in train}
    assert sum(m is not None for m in masked.values()) > 0.95 * len(train)
    assert masked["make the hair red"].startswith("make the hair ") and not masked["make the hair red"].endswith(" red")
    assert masked["remove her glasses"].startswith("remove her ") and "glasses" not in masked["remove her glasses"]
    every_word = {w for g, _ in targets() for w in group_words(g)}
    for p in train:
        m = masked[p.text]
        if m is None:
            continue
        new = set(m.split()) - set(p.text.split())
        assert len(m.split()) <= len(p.text.split()) and len(new) == 1, (p.text, m)
        assert not new & every_word and m != p.text
    held, _ = heldout_wording()
    assert not any(set(group_words(g)) & held - {"golden"} for g, _ in targets())   # "golden" is held out for hair only
    assert masked_text(next(p for p in phrasings("train") if p.group == UNKNOWN), rng) is None
    assert all(re.fullmatch(r"[a-z]{4,6}", w) for w in (m.split()[-1] for m in list(masked.values())[:50] if m))


def test_the_masked_corpus_pairs_a_made_up_clip_view_with_the_real_sentence(clip):
    from stylepaint.styleclip import sentences
    from stylepaint.styleclip.universal_training import _Corpus

    plain = _Corpus(clip, GROUPS, sentence=True)
    twin = _Corpus(clip, GROUPS, sentence=True, masked=1.0)
    n, known = len(plain.texts), int(plain.known.sum())      # texts outside the vocabulary have no attribute word
    assert known < n and n + 0.95 * known < len(twin.texts) <= n + known
    assert 0.2 * known < len(_Corpus(clip, GROUPS, sentence=True, masked=0.3).texts) - n < 0.4 * known
    assert torch.equal(twin.emb[:n], plain.emb[:n]) and torch.equal(twin.label[:n], plain.label[:n])
    d = clip.embed_dim
    for i in range(n, len(twin.texts), 37):          # each twin: its original's sentence view and labels
        j = next(k for k in range(n) if torch.equal(plain.emb[k, d:], twin.emb[i, d:]))
        assert twin.label[i] == plain.label[j] and twin.strength[i] == plain.strength[j]
        assert twin.texts[i] != plain.texts[j] and not torch.equal(twin.emb[i, :d], plain.emb[j, :d])
        assert torch.allclose(twin.emb[i, d:], sentences.embed([plain.texts[j]])[0])
    assert len(_Corpus(clip, GROUPS, masked=1.0).texts) == n       # without the sentence encoder: nothing to add


@pytest.mark.timeout(120)
def test_sentence_embeddings_are_remembered_within_the_cache_size(monkeypatch):
    from stylepaint.styleclip import sentences

    monkeypatch.setattr(sentences, "CACHE_SIZE", 2)
    monkeypatch.setattr(sentences, "_cache", type(sentences._cache)())
    texts = ["add a hat", "remove her glasses", "make the hair red", "add a hat"]
    batch = sentences.embed(texts)                   # more distinct texts than the cache holds
    assert batch.shape == (4, sentences.DIM) and torch.equal(batch[0], batch[3])
    assert list(sentences._cache) == ["remove her glasses", "make the hair red"]
    for i, t in enumerate(texts):
        assert torch.allclose(sentences.embed([t])[0], batch[i], atol=1e-5)


def test_gains_are_calibrated_from_exact_pairs_and_scale_the_edit(code_generator, tiny_generator, clip, tmp_path):
    from safetensors.torch import load, save

    from stylepaint.styleclip.instructions import understand, universal_delta
    from stylepaint.styleclip.universal_training import GAIN_RANGE, calibrate_gains

    G, code = code_generator, portrait_code(code_generator)
    params = replace(FAST, steps=60, clip_every=0, lr=3e-3, batch=8, hidden=64)
    model = last(train_universal(G, clip, tmp_path / "run", params))[-1]["mapper"]
    first = model.info["gains"]["values"]           # training with pairs ends calibrated
    assert set(first) <= {f"{g}={v}" for g, v in model.targets} and len(first) >= len(model.targets) - 1
    assert all(GAIN_RANGE[0] <= g <= GAIN_RANGE[1] for g in first.values())
    # the gain is what makes the edit's component along the true one full length: an edit
    # twice as short gets (within the range) twice the gain
    model.scale = 0.5
    halved = calibrate_gains(G, clip, model, code)
    for key, g in first.items():
        if 2 * g < GAIN_RANGE[1]:
            assert halved[key] == pytest.approx(2 * g, rel=1e-3), key
    model.scale = 1.0
    calibrate_gains(G, clip, model, code)
    k = model.targets.index(("hair_color", "red"))
    ws, true = pair_batch(G, code, torch.randn(64, 128, generator=torch.Generator().manual_seed(3)),
                          [("hair_color", "red")] * 64, params.truncation)
    keep = [r["attributes"]["hair_color"] != "red" for r in code.decode(ws[:, 0].double().numpy())]
    ws, true = ws[keep], true[keep]
    pred = model(ws, condition(clip, *canonical("hair_color", "red")))
    raw = float((pred * true).sum() / true.pow(2).sum())
    calibrated = float(model.gains[k]) * raw
    assert abs(calibrated - 1) < abs(raw - 1) or abs(raw - 1) < 0.05      # fresh faces: nearer the full length
    # the editor's edit carries the gain: at twice the gain, twice the shift (the reader of 60
    # steps on a random CLIP reads nothing yet, so it is told the target here)
    def read_red(emb):
        logits = torch.full((1, len(model.targets) + 1), -10.0)
        logits[0, k] = 10.0
        return {"logits": logits, "kind": torch.tensor([-1.0]), "strength": torch.tensor([1.0])}

    model.read = read_red
    u = understand(model, clip, "red hair")
    assert (u.group, u.value, u.gain) == ("hair_color", "red", pytest.approx(float(model.gains[k])))
    one = universal_delta(G, clip, model, ws[:1], u)
    model.gains[k] *= 2
    two = universal_delta(G, clip, model, ws[:1], understand(model, clip, "red hair"))
    assert np.allclose(two, 2 * one, atol=1e-5) and np.abs(one).max() > 0
    del model.read
    # a file from before the gains existed loads with gain 1 everywhere
    path = save_universal(model, tmp_path / "m.safetensors")
    from stylepaint.styleclip.universal_mapper import FORMAT
    import json
    tensors = {k: v for k, v in load(path.read_bytes()).items() if k != "gains"}
    meta = {"format": FORMAT, "config": json.dumps(model.config()), "info": json.dumps(model.info)}
    (tmp_path / "old.safetensors").write_bytes(save(tensors, metadata=meta))
    assert torch.equal(load_universal(tmp_path / "old.safetensors", G, clip).gains, torch.ones(len(model.targets)))
    # without the portrait code there are no pairs to calibrate on: one clear message
    with pytest.raises(InputError, match="portrait code"):
        calibrate_gains(tiny_generator, clip, model, None)


def test_the_reader_trains_on_meanings_that_hold_no_held_out_wording(clip):
    """With glosses the CLIP reads a training text with its rarer words' other names beside them
    and the sentence encoder also reads their meanings, both without the held-out wording
    ("spectacles" is also "specs" and "eyeglasses" in WordNet; both are held out)."""
    from stylepaint.styleclip import glosses
    from stylepaint.styleclip.phrasings import hidden_wording
    from stylepaint.styleclip.universal_training import _Corpus

    corpus = _Corpus(clip, ["eyewear"], sentence=True, glosses=True)
    assert corpus.emb.shape[1] == clip.embed_dim + 2 * 384
    i = corpus.texts.index("give her spectacles")
    hide = hidden_wording()
    meaning = corpus.emb[i, -384:]
    assert torch.allclose(meaning, glosses.embed(["give her spectacles"], hide)[0], atol=1e-5)
    assert not torch.allclose(meaning, glosses.embed(["give her spectacles"])[0], atol=1e-3)
    expanded = glosses.expand("give her spectacles", hide)
    assert expanded != "give her spectacles" and "specs" not in expanded
    assert torch.allclose(corpus.emb[i, :clip.embed_dim], clip.text.embed(expanded).float(), atol=1e-5)
    plain = _Corpus(clip, ["eyewear"], sentence=True)
    assert plain.emb.shape[1] == clip.embed_dim + 384
    assert torch.allclose(plain.emb[i, :clip.embed_dim], clip.text.embed("give her spectacles").float(), atol=1e-5)
