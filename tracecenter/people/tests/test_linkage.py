"""Weights learned from the data (EM, random pairs, term frequencies), lists matched in memory, and match_pairs."""

import datetime as dt
import io
import json
import math
import random

import pytest
from django.core.management import CommandError, call_command

from tracecenter.people import fellegi_sunter as fs
from tracecenter.people import linkage, matching, weights
from tracecenter.people.identity import Resolver, refresh_all_match_keys
from tracecenter.people.models import MatchWeights, Person, PersonMatchKey

FIRST = ["Ana", "Bruno", "Chloe", "Dmitri", "Esther", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kofi", "Lena"]
LAST = ["Okafor", "Lindqvist", "Tanaka", "Moreau", "Ivanova", "Costa", "Raman", "Quispe", "Demir", "Berg", "Novak"]


def population(n: int, seed: int = 3) -> list[matching.Identity]:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    return [
        matching.identity_from(
            first_name=rng.choice(FIRST) + rng.choice(["", "a", "o", "e"]),
            last_name=rng.choice(LAST) + rng.choice(["", "son", "ez", "i"]),
            date_of_birth=dt.date(rng.randint(1930, 2020), rng.randint(1, 12), rng.randint(1, 28)),
            street=f"{rng.randint(1, 400)} {rng.choice(['Main', 'Elm', 'Oak', 'Pine'])} St",
            postal_code=f"0{rng.randint(1000, 1099)}",
            sex=rng.choice("FM"),
        )
        for _ in range(n)
    ]


def with_typos(people: list[matching.Identity], seed: int = 4) -> list[matching.Identity]:
    rng = random.Random(seed)  # noqa: S311 (test data, not secrets)
    out = []
    for p in people:
        first = p.first_name
        if rng.random() < 0.3:
            first = first[:-1] + "x"
        dob = p.date_of_birth
        if dob and rng.random() < 0.2:
            dob = dob.replace(day=dob.month) if dob.day <= 12 else dob.replace(year=dob.year + 1)
        out.append(
            matching.identity_from(
                first_name=first, last_name=p.last_name, date_of_birth=dob, street=p.street, postal_code=p.postal_code, sex=p.sex
            )
        )
    return out


# EM and the model


def test_em_learns_that_agreement_on_a_birth_date_is_strong_evidence_and_disagreement_on_a_name_weak():
    left = population(600)
    right = with_typos(left)
    pairs = linkage.candidate_pairs(left, right)
    assert sum(1 for i, j in pairs if i == j) >= 0.995 * len(left)  # blocking keeps the true pairs
    model = linkage.estimate(left, right, pairs)
    assert model.source == "input" and model.em_iterations > 1
    assert model.weight("date_of_birth", "exact") > 8
    assert model.weight("first_name", "different") < 0
    # lambda: about one true pair per left record among all left x right pairs.
    assert 0.5 / len(right) < model.lambda_ < 2 / len(right)
    thresholds = matching.Thresholds(prior_bits=model.prior_bits)
    links = {(i, j) for i, j in pairs if matching.decide(matching.score(left[i], right[j], model), thresholds) == "match"}
    true_links = {(i, j) for i, j in links if i == j}
    assert len(true_links) >= 0.95 * len(left)
    assert len(links - true_links) <= 0.001 * len(links)


def test_a_common_name_agreeing_weighs_less_than_a_rare_one():
    model = dataclasses_replace_tf({"last_name": {"smith": 0.01}}, {"last_name": 0.0001})
    assert model.exact_weight("last_name", "smith") < model.exact_weight("last_name", "zawadzki")
    assert model.exact_weight("last_name", "zawadzki") == pytest.approx(math.log2(model.m["last_name", "exact"] / 0.0001))


def dataclasses_replace_tf(tf, default):
    import dataclasses

    return dataclasses.replace(matching.PRIORS, tf=tf, tf_default=default)


def test_term_frequencies_keep_no_rare_value():
    table, default = fs.term_frequencies(["smith"] * fs.TF_MIN_COUNT + ["zawadzki"] * (fs.TF_MIN_COUNT - 1), 1000)
    assert table == {"smith": fs.TF_MIN_COUNT / 1000}
    assert default == fs.TF_MIN_COUNT / 1000


def test_absent_fields_weigh_nothing_so_a_record_without_phone_is_judged_on_the_same_scale():
    base = {"first_name": "Ana", "last_name": "Okafor", "date_of_birth": dt.date(1980, 1, 2)}
    bare = matching.score(matching.identity_from(**base), matching.identity_from(**base))
    one_phone = matching.score(matching.identity_from(**base, phones=["6175550134"]), matching.identity_from(**base))
    assert bare.total == one_phone.total


def test_the_twin_guard_holds_back_different_first_names_on_one_birth_date_surname_and_address():
    common = {
        "last_name": "Okafor",
        "date_of_birth": dt.date(2010, 5, 6),
        "street": "12 Main St",
        "postal_code": "02139",
        "phones": ["6175550134"],
    }
    result = matching.score(
        matching.identity_from(first_name="Chidi", **common), matching.identity_from(first_name="Ngozi", **common)
    )
    assert result.conflicts == ("first_name",)
    assert matching.decide(result, matching.Thresholds(prior_bits=-5)) == "review"  # never "match", whatever the odds
    # Elsewhere a different first name is evidence against, not a veto.
    moved = matching.score(
        matching.identity_from(first_name="Chidi", **common),
        matching.identity_from(first_name="Chidiebere", **{**common, "street": "9 Elm Rd", "phones": ["6175550199"]}),
    )
    assert moved.conflicts == ()
    # Maria and Mariana are alike but two names: twins are named so.
    twins = matching.score(
        matching.identity_from(first_name="Maria", **common), matching.identity_from(first_name="Mariana", **common)
    )
    assert twins.conflicts == ("first_name",)


def test_an_impossible_birth_date_is_kept_and_compared_as_a_typo():
    assert matching.parse_date_of_birth("19850631") == (None, "19850631")
    assert matching.parse_date_of_birth("1985-06-30") == (dt.date(1985, 6, 30), "")
    assert matching.parse_date_of_birth("06/30/1985") == (dt.date(1985, 6, 30), "")
    real = matching.identity_from(first_name="Ana", last_name="Okafor", date_of_birth=dt.date(1985, 6, 30))
    typed = matching.identity_from(first_name="Ana", last_name="Okafor", date_of_birth_text="19850631")
    assert matching.score(real, typed).field("date_of_birth").outcome == "typo"
    assert matching.blocking_keys(real) & matching.blocking_keys(typed)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: {**d, "version": 2}, "version 1"),
        (lambda d: {**d, "lambda": 1.5}, "lambda"),
        (lambda d: {**d, "m": {**d["m"], "sex:exact": 0}}, "m of sex:exact"),
        (lambda d: {**d, "u": {k: v for k, v in d["u"].items() if k != "phone:exact"}}, "phone:exact"),
        (lambda d: {**d, "tf": {"last_name": {"smith": 7}}}, "term frequencies"),
        (lambda d: [], "version 1"),
    ],
)
def test_a_damaged_weights_file_is_refused_with_what_is_wrong(mutate, message):
    with pytest.raises(ValueError, match=message):
        fs.Model.from_json(mutate(matching.PRIORS.to_json()))


def test_weights_survive_a_round_trip_through_json():
    again = fs.Model.loads(json.dumps(matching.PRIORS.to_json()))
    assert again.m == matching.PRIORS.m and again.u == matching.PRIORS.u and again.tf == matching.PRIORS.tf
    with pytest.raises(ValueError, match="not JSON"):
        fs.Model.loads("{")


# Reading rows


def rows(text: str) -> list[linkage.Row]:
    return linkage.read_rows(text.splitlines(keepends=True), "people.csv")


def test_rows_are_read_with_any_column_absent_and_a_raw_birth_date_kept():
    read = rows("ID,Last_Name,date_of_birth,unknown\n7,Okafor,19850631,x\n\n8,,,\n")
    assert [(r.id, r.line) for r in read] == [("7", 2), ("8", 4)]
    assert read[0].identity.date_of_birth_text == "19850631"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("name\nAna\n", "line 1: no 'id' column"),
        ("id,id\n1,2\n", "line 1: column 'id' appears more than once"),
        ("id,first_name\n1,Ana\n1,Bea\n", "line 3: id '1' appears twice"),
        ("id,first_name\n,Ana\n", "line 2: the id is empty"),
        ("id,first_name\n1,Ana,extra\n", "line 2: 3 values for 2 columns"),
        ('id,first_name\n1,"Ana\x1b[31m"\n', "line 2: first_name contains a control character"),
        ('id,first_name\n1,"' + "a" * 5000 + '"\n', "line 2: first_name is longer than"),
        ('id,first_name\n1,"Ana\n', "line 2"),
    ],
)
def test_hostile_or_malformed_csv_is_refused_naming_the_line(text, message):
    with pytest.raises(linkage.InputError, match=message):
        rows(text)


# match_pairs


def write_csv(path, people, prefix):
    lines = ["id,first_name,last_name,date_of_birth,sex,street,postal_code,phone"]
    for n, p in enumerate(people):
        dob = p.date_of_birth.isoformat() if p.date_of_birth else ""
        lines.append(f"{prefix}{n},{p.first_name},{p.last_name},{dob},{p.sex},{p.street},{p.postal_code},")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_match_pairs(*args: str) -> list[dict]:
    out = io.StringIO()
    call_command("match_pairs", *args, "--json", stdout=out)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_match_pairs_deduplicates_one_file_listing_each_pair_once_left_first(tmp_path):
    people = population(300)
    both = people + with_typos(people)
    lines = run_match_pairs(str(write_csv(tmp_path / "list.csv", both, "p")))
    *pairs, last = lines
    summary = last["summary"]
    assert summary["mode"] == "deduplicate" and summary["left_rows"] == 600 and summary["candidate_pairs"] == len(pairs)
    seen = set()
    for pair in pairs:
        left, right = int(pair["left"][1:]), int(pair["right"][1:])
        assert left < right and (left, right) not in seen
        seen.add((left, right))
        assert pair["decision"] in ("link", "review", "distinct") and 0 <= pair["probability"] <= 1
        assert all(set(e) == {"level", "weight"} for k, e in pair["evidence"].items() if k != "guard")
    linked = {(int(p["left"][1:]), int(p["right"][1:])) for p in pairs if p["decision"] == "link"}
    true = {(i, i + 300) for i in range(300)}
    assert len(linked & true) >= 0.9 * 300
    assert len(linked - true) <= 1


def test_match_pairs_links_two_files_with_weights_from_a_file(tmp_path):
    people = population(200)
    left = write_csv(tmp_path / "a.csv", people, "a")
    right = write_csv(tmp_path / "b.csv", with_typos(people), "b")
    weights_file = tmp_path / "w.json"
    weights_file.write_text(json.dumps(matching.PRIORS.to_json()), encoding="utf-8")
    *pairs, last = run_match_pairs(str(left), str(right), "--weights", str(weights_file))
    assert last["summary"]["mode"] == "link" and last["summary"]["weights"] == "priors"
    assert all(p["left"].startswith("a") and p["right"].startswith("b") for p in pairs)


def test_match_pairs_refuses_bad_input_naming_file_and_line(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"id,first_name\n1,Ana\n2,\xff\xfe\n")
    with pytest.raises(CommandError, match="line 3: not UTF-8"):
        run_match_pairs(str(bad))
    bad.write_bytes(b"id,first_name\n1,A\x00na\n")
    with pytest.raises(CommandError, match="line 2: a NUL byte"):
        run_match_pairs(str(bad))
    with pytest.raises(CommandError, match="no such file"):
        run_match_pairs(str(tmp_path / "missing.csv"))
    good = write_csv(tmp_path / "good.csv", population(5), "p")
    (tmp_path / "w.json").write_text("[]", encoding="utf-8")
    with pytest.raises(CommandError, match="version 1"):
        run_match_pairs(str(good), "--weights", str(tmp_path / "w.json"))
    with pytest.raises(CommandError, match="review"):
        run_match_pairs(str(good), "--link", "0.4", "--review", "0.6")


# Weights from the registry, used by intake


def make_persons(county, people):
    made = []
    for p in people:
        made.append(
            Person.objects.create(
                jurisdiction=county,
                first_name=p.first_name.title(),
                last_name=p.last_name.title(),
                date_of_birth=p.date_of_birth,
                sex=p.sex,
                street=p.street,
                postal_code=p.postal_code,
            )
        )
    return made


def test_a_small_registry_keeps_the_priors(county, tmp_path):
    make_persons(county, population(20))
    assert weights.refresh_weights() is None
    out = io.StringIO()
    call_command("match_weights_refresh", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"stored": False, "persons": 0, "candidate_pairs": 0, "em_iterations": 0}
    with pytest.raises(CommandError, match="fewer than"):
        call_command("match_weights_refresh", "--output", str(tmp_path / "w.json"), stdout=out)
    assert not MatchWeights.objects.exists()
    weights.forget_cached_model()
    assert Resolver(county).model is matching.PRIORS


def test_refreshed_weights_are_stored_and_used_by_intake(county):
    make_persons(county, population(150) + with_typos(population(150))[:100])
    out = io.StringIO()
    with pytest.raises(CommandError, match="--sample"):
        call_command("match_weights_refresh", "--sample", "5", stdout=out)
    row = weights.refresh_weights(min_persons=100)
    assert row is not None and row.persons == 250
    stored = fs.Model.from_json(row.weights)
    assert stored.source == "registry"
    assert all(n >= fs.TF_MIN_COUNT * 0 for n in [len(stored.tf["last_name"])])
    # Names carried by fewer than TF_MIN_COUNT persons are not in the stored table.
    assert all(share * 250 >= fs.TF_MIN_COUNT for table in stored.tf.values() for share in table.values())
    assert weights.current_model(min_persons=100).u == stored.u
    weights.forget_cached_model()


def test_keys_are_recomputed_for_every_person(county):
    made = make_persons(county, population(5))
    PersonMatchKey.objects.all().delete()
    assert refresh_all_match_keys() == 5
    # Blocking keys and the search-only surname key.
    assert PersonMatchKey.objects.filter(person=made[0]).count() == len(
        matching.stored_keys(
            matching.identity_from(
                first_name=made[0].first_name,
                last_name=made[0].last_name,
                date_of_birth=made[0].date_of_birth,
                sex=made[0].sex,
                street=made[0].street,
                postal_code=made[0].postal_code,
            )
        )
    )
    out = io.StringIO()
    call_command("match_keys_refresh", stdout=out)
    assert "recomputed for 5 persons" in out.getvalue()
