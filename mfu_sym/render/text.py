"""Text of the commands about formulas: derive, analyze, reconcile, presets, chinchilla."""

from .escape import printable
from .json import PARAM_KEYS, preset_rows
from .units import flops as si_flops
from .units import grouped, percent, si, significant


# ------------------------------------------------------------------ derive

def convention_lines(conventions):
    width = max(map(len, conventions))
    return [f"  {k:<{width}}  {v}" for k, v in conventions.items()]


def derive_quiet(report):
    """`derive --quiet`: one line, training FLOPs per token and per step."""
    run, flops = report["run"], report["flops"]
    per_token, per_step = flops["per_token"]["training"], flops["training"]
    return (f"{report['model']}, seq_len {int(run['seq_len']):,}, preset {report['conventions']['preset']}: "
            f"training FLOPs {grouped(per_token)} per token ({si_flops(per_token)}), {grouped(per_step)} per step "
            f"of batch {int(run['batch']):,} ({si_flops(per_step)})"
            + (f"; with the images {grouped(run['batch'] * report['vision']['sample']['training'])} per step"
               if "vision" in report else ""))


def derive(model, report, source=None):
    run, flops, params = report["run"], report["flops"], report["params"]
    lines = [f"{report['model']}" + (f"  ({printable(source)})" if source else ""),
             f"Run: batch {int(run['batch']):,} x seq_len {int(run['seq_len']):,}"
             + ("" if run["seq_len_from"] == "given" else f" (seq_len: {run['seq_len_from']})")]
    lines += [f"NOTE: {note}" for note in report.get("notes", ())]
    lines += ["", "Conventions"]
    lines += convention_lines(report["conventions"]["explained"])
    lines += ["",
              "Parameters (exact)"]
    for key in PARAM_KEYS:
        lines.append(f"  {key:<15}{grouped(params[key]):>22}")
    if model.arch.size("n_zero_experts"):  # blocks/moeb.py
        lines.append(f"  (MoE: top_k = {model.arch.top_k} slots over {model.arch.n_experts} real and "
                     f"{model.arch.size('n_zero_experts')} zero-computation experts; active counts the real experts "
                     "a token runs as the variant zero_expert_routing assumes)")
    elif model.arch.n_experts:
        lines.append(f"  (MoE: active counts top_k = {model.arch.top_k} of n_experts = {model.arch.n_experts} routed "
                     "experts; FLOPs and MFU use active, never total, parameters)")
    lines += _extras(report)
    lines += ["",
              f"FLOPs by component, one step of batch {int(run['batch']):,} x seq_len {int(run['seq_len']):,} "
              f"= {int(run['tokens']):,} {'real ' if 'documents' in report else ''}tokens",
              "  formulas: forward FLOPs of one sequence, in the model's symbols"
              + ("; a pack costs them summed over its documents (seq_len = a document's length)"
                 if "documents" in report else "")]
    for name, c in flops["components"].items():
        lines.append(f"  {name}")
        formula = report["formulas"][name]
        if formula != 0:
            lines.append(f"    = {formula}")
        lines.append(f"    forward {grouped(c['forward']):>26}   backward {grouped(c['backward']):>26}"
                     f"   params {grouped(c['params'])}")
    lines += ["", "Totals"]
    rows = [("per token", flops["per_token"]["forward"], flops["per_token"]["training"]),
            ("per pack" if "documents" in report else "per sequence", flops["per_sequence"]["forward"],
             flops["per_sequence"]["training"]),
            (f"per step (batch {int(run['batch']):,})", flops["forward"], flops["training"])]
    lines.append(f"  {'':<22}{'forward':>28}{'training (fwd+bwd)':>30}")
    for label, fwd, train in rows:
        lines.append(f"  {label:<22}{grouped(fwd):>28} {grouped(train):>29}   ({si_flops(train)})")
    if model.conventions.recompute != "none":
        lines.append(f"  {'hardware, per step':<22}{'':>28}{grouped(flops['hardware_training']):>30}   "
                     f"({si_flops(flops['hardware_training'])}, with {model.conventions.recompute} "
                     f"recomputation: {grouped(flops['recompute'])} more)")
    if "vision" in report:
        sample = report["vision"]["sample"]["training"]
        lines.append(f"  {'with the images':<22}{'':>28} {grouped(run['batch'] * sample):>29}   "
                     f"({si_flops(run['batch'] * sample)} a step: the decoder's and the vision encoder's, per sample)")
    conv = report["conventions"]
    variants = "".join(f", {name} {choice}" for name, choice in conv["variants"].items())
    lines.append(f"  counted under: preset {conv['preset']}, mask {conv['mask']}, "
                 f"attention kernel {conv['attention_kernel']}{variants}")
    lines.append(f"  components counted in MFU: {', '.join(flops['components'])}")
    return "\n".join(lines)


def _extras(report):
    lines = []
    if "mtp" in report:
        mtp = report["mtp"]
        state = "counted in the totals (--mtp)" if mtp["counted"] else "not counted in the totals (use --mtp)"
        lines += ["", f"Multi-token prediction: {state}",
                  f"  params {grouped(mtp['params'])}   forward {grouped(mtp['forward'])}   "
                  f"training {grouped(mtp['training'])}"]
    lines += _documents(report.get("documents"))
    lines += _vision(report.get("vision"), report["run"]["batch"])
    if "capacity" in report:
        cap = report["capacity"]
        lines += ["", f"Capacity factor {cap['capacity_factor']} (hardware FLOPs, not model FLOPs)",
                  f"  slots per expert {grouped(cap['slots_per_expert'])}; padded slots {grouped(cap['padded_slots'])}; "
                  f"dropped token-expert assignments {grouped(cap['dropped_assignments'])}",
                  f"  experts forward: model {grouped(cap['experts_forward_model'])}, executed "
                  f"{grouped(cap['experts_forward_executed'])}",
                  f"  training hardware FLOPs {grouped(cap['training_hardware'])}"]
    return lines


def _vision(v, batch):
    """The images of a vision-language sample and their encoder FLOPs, or nothing."""
    if v is None:
        return []
    sample, enc, dec = v["sample"], v["encoder"], v["decoder"]
    lines = ["", f"Images: {v['images']} a sample of {printable(v['image_size'])}, {v['family']} vision tower"
             + (" (frozen: forward only)" if v["frozen_encoder"] else ""),
             f"  {v['encoder_inputs']:,} encoder input{'s' if v['encoder_inputs'] != 1 else ''} (images or tiles), "
             f"{v['patches']:,} patches; {v['image_tokens']:,} "
             f"image tokens + {v['text_tokens']:,} text tokens = seq_len {v['seq_len']:,}",
             f"  encoder params {grouped(v['encoder_params'])} (not in the decoder's parameters above)"]
    for name, c in v["encoder_components"].items():
        if c["forward"] or c["backward"]:
            lines.append(f"  {name:<24}forward {grouped(c['forward']):>24}   backward {grouped(c['backward']):>24}")
    lines += [f"  {'per sample':<24}{'forward':>32}{'training':>36}",
              f"  {'  vision encoder':<24}{grouped(enc['forward']):>32}{grouped(enc['training']):>36}",
              f"  {'  decoder':<24}{grouped(dec['forward']):>32}{grouped(dec['training']):>36}",
              f"  {'  sample':<24}{grouped(sample['forward']):>32}{grouped(sample['training']):>36}   "
              f"({si_flops(sample['training'])})",
              f"  {'per step (batch ' + str(batch) + ')':<24}{grouped(batch * sample['forward']):>32}"
              f"{grouped(batch * sample['training']):>36}",
              f"  billed {v['billing']}"]
    return lines


def _documents(docs):
    """The packed documents of a derive report, or nothing."""
    if docs is None:
        return []
    lines = ["", f"Packed documents: {printable(docs['spec'])} ({docs['description']})",
             f"  per pack: {grouped(docs['documents_per_pack'])} documents, {grouped(docs['tokens_per_pack'])} "
             f"real tokens, {grouped(docs['padding_per_pack'])} padding",
             f"  mean length {grouped(docs['mean_length'])}; token-weighted mean length E[L^2]/E[L] "
             f"{grouped(docs['token_weighted_length'])}"]
    if "per_token_forward" in docs:
        lines.append(f"  attention core per token, closed form in the distribution's parameters: "
                     f"{docs['per_token_forward']['attention_core']}")
    if "mass_above_seq_len" in docs:
        lines.append(f"  share of the distribution above seq_len (left out): {percent(docs['mass_above_seq_len'])}")
    if docs["padding_per_pack"]:
        pad = docs["padding_flops"]
        lines.append(f"  padding, if it runs as one more document (hardware FLOPs, not model FLOPs): forward "
                     f"{grouped(pad['forward'])}, training {grouped(pad['training'])} per step")
    return lines


# ------------------------------------------------------------------ analyze, reconcile

def _exact_root(value):
    """A crossover length: grouped when it is a whole number, else sympy's text."""
    return f"{int(value):,}" if isinstance(value, int) or getattr(value, "is_Integer", False) else value


def analyze(r):
    s = f"{int(r['run']['seq_len']):,}"
    lines = [f"{r['model']}  (preset {r['conventions']['preset']}, mask {r['conventions']['mask']})",
             f"training FLOPs of one sequence, F(s) = {r['training_per_sequence']['symbolic']}",
             f"  F({s}) = {grouped(r['training_per_sequence']['value'])}",
             f"per token, F(s)/s = {r['per_token']['symbolic']}",
             f"  at s = {s}: {grouped(r['per_token']['value'])}",
             f"dF/ds = {r['derivative_by_seq_len']['symbolic']}",
             f"  at s = {s}: {grouped(r['derivative_by_seq_len']['value'])};"
             f" exact marginal token F(s+1) - F(s): {grouped(r['marginal_token']['value'])}",
             "crossover seq_len, attention core = MLP (training FLOPs):"]
    for mask, root in r["crossover_seq_len"]["attention_core_vs_mlp"].items():
        lines.append(f"  {mask:<7}" + (f"s = {_exact_root(root['exact'])}  (~{significant(root['approx'])})" if root else "never"))
    names = sorted({name for shares in r["shares"].values() for name in shares})
    lines.append("share of training FLOPs by component:")
    lines.append("  " + f"{'seq_len':>9}" + "".join(f"{n[:14]:>16}" for n in names))
    for length, shares in r["shares"].items():
        lines.append("  " + f"{int(length):>9,}" + "".join(f"{percent(shares.get(n, 0)):>16}" for n in names))
    a = r["asymptotic"]
    lines.append(f"large s: F(s) ~ {a['leading_term']}  ({a['meaning']})")
    return "\n".join(lines)


def reconcile(result):
    base, other = result["base"], result["against"]
    lines = [f"{result['model']}: {base['preset']} minus {other['preset']} "
             f"(training FLOPs, batch {int(result['run']['batch']):,} x seq_len {int(result['run']['seq_len']):,})",
             f"  {base['preset']:<16}{grouped(base['training']):>32}",
             f"  {other['preset']:<16}{grouped(other['training']):>32}",
             f"  ratio {base['preset']} / {other['preset']}: {significant(result['ratio'])}",
             f"  residual per sequence = {result['residual']}",
             "  by component (residual per sequence; value per step; share of the base total):"]
    for name, row in result["components"].items():
        lines.append(f"    {name:<22}{grouped(row['value']):>30}  {percent(row['relative_to_base'], sign=True)}")
        lines.append(f"      = {row['residual']}")
    if result.get("terms"):
        lines.append("  by term (training FLOPs per step: difference, then each side):")
        for name, row in result["terms"].items():
            lines.append(f"    {name:<30}{grouped(row['value']):>26}  {percent(row['relative_to_base'], sign=True)}   "
                         f"({grouped(row['base'])} vs {grouped(row['against'])})")
    if result.get("differences"):
        lines.append("  why: the conventions differ on")
        for row in result["differences"]:
            lines.append(f"    {row['switch']}")
            lines.append(f"      {base['preset']}: {row['base']}")
            lines.append(f"      {other['preset']}: {row['against']}")
    for identity in result["identities"]:
        status = identity["status"] + (f" ({identity['reason']})" if identity.get("reason") else "")
        lines.append(f"  identity [{identity['preset']}] {identity['statement']}: {status}")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ presets, chinchilla

def presets(presets, references):
    """Each preset: its description, switches, source and identities, then a blank line."""
    out = []
    for r in preset_rows(presets, references):
        switches = ", ".join(
            f"{k}={'/'.join(v) if isinstance(v, tuple) else v}" if k != "variants"
            else "variants " + " ".join(f"{name}={choice}" for name, choice in v.items())
            for k, v in r["switches"].items())
        out.append(f"{r['name']}\n  {r['description']}\n  switches: {switches}\n"
                   f"  source: {r['reference']['title']}, {r['reference']['where']} ({r['reference']['link']})\n")
        out += [f"  identity: {statement}\n" for statement in r["identities"]]
        out.append("\n")
    return "".join(out)


def variants(variants, references):
    """Each disputed term: what is disputed, then each way of counting it with its source."""
    from .json import variant_rows
    out = []
    for r in variant_rows(variants, references):
        out.append(f"{r['name']}\n  {r['description']}\n")
        for c in r["choices"]:
            mark = " (default)" if c["name"] == r["default"] else ""
            out.append(f"  {c['name']}{mark}: {c['description']}\n"
                       f"    source: {c['reference']['title']}, {c['reference']['where']} ({c['reference']['link']})\n")
        out.append("\n")
    return "".join(out)


def chinchilla(frontier, chosen, results):
    from ..planning import display as d
    lines = ["Chinchilla compute-optimal allocation, derived by sympy (Hoffmann et al. 2022, §3.3)",
             f"  {'loss':<15}L(N, D) = {d(frontier.loss)}",
             f"  {'constraint':<15}C = 6*N*D",
             f"  {'first order':<15}{d(frontier.stationarity.lhs)} = {d(frontier.stationarity.rhs)}",
             f"  {'N_opt(C)':<15}{d(frontier.n_opt_form())}",
             f"  {'D_opt(C)':<15}{d(frontier.d_opt_form())}",
             f"  {'':<15}(sympy's solution {d(frontier.n_opt)} is checked equal to this form)",
             f"  {'minimum':<15}d2L/dN2 at N_opt = {d(frontier.curvature)} > 0"]
    if results:
        compute = next(iter(results.values()))["compute"]
        lines += ["", f"compute C = {si(compute, 'FLOP')}",
                  f"  {'fit':<15}{'E':>7}{'A':>9}{'B':>9}{'alpha':>8}{'beta':>8}{'a':>8}{'b':>8}"
                  f"{'N_opt':>12}{'D_opt':>12}{'D/N':>8}{'loss':>8}"]
        for fit in chosen:
            r = results[fit.key]
            lines.append(f"  {fit.key:<15}{fit.E:>7g}{fit.A:>9g}{fit.B:>9g}{fit.alpha:>8g}{fit.beta:>8g}"
                         f"{significant(r['a']):>8}{significant(r['b']):>8}{si(r['n_opt']):>12}{si(r['d_opt']):>12}"
                         f"{significant(r['tokens_per_param']):>8}{significant(r['loss']):>8}")
    lines += ["", "fits (formulas/scaling_laws.yaml)"]
    for fit in chosen:
        lines.append(f"  {fit.key:<15}{fit.name}: {fit.cite()}")
    return "\n".join(lines)
