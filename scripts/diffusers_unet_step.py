"""Time one denoising step of diffusers' UNet2DConditionModel on the CPU, for comparison with sd_bench's unet_step_cfg.

Loads DIR/unet (safetensors) in fp32, in eval mode, and runs it under torch.inference_mode() (as diffmix runs its
UNet) on seeded random inputs of the
same shapes as sd_bench: latents B x 4 x N x N, timestep 500 and text embeddings B x 77 x cross_attention_dim. After
one warm-up step it times K steps and prints the median seconds per step and the peak resident memory: the process's
high-water mark (ru_maxrss, which includes loading the weights) and the high-water mark over the timed steps alone
(VmHWM reset before them, as sd_bench measures it).

With --ops it runs K more steps under LibTorch's profiler and prints every operator with its calls, self time and
inclusive time per step: the table that sd_unet_profile prints for diffmix on the same LibTorch
(scripts/sd-side-by-side.sh compares the two).

With --profile it then runs K more steps with forward hooks on every submodule and prints where a step's time goes:
per top-level block of the UNet, and per module class. "inclusive" is a module's whole forward, nested modules
included; "self" leaves out the time spent in its submodules, so the self times plus the UNet's own code outside its
blocks add up to the step. Attention modules are split into attn1 (self-attention) and attn2 (cross-attention). The
hooks cost time of their own, so the profiled step is a little slower than the timed ones.

Run it with the reference environment of shared/refenv (diffusers 0.27.2 on Debian's python3-torch):

    source REFENV/env.sh
    /usr/bin/python3 scripts/diffusers_unet_step.py --model /tmp/diffmix-bench-sd15 --latent 64 --threads 2 --profile
"""

import argparse
import json
import resource
import statistics
import time
from collections import defaultdict

import torch
from diffusers import UNet2DConditionModel


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="diffusers folder with unet/ in safetensors")
    parser.add_argument("--latent", type=int, required=True, help="latent side N (64 for 512x512 images)")
    parser.add_argument("--batch", type=int, default=2, help="batch size (2: classifier-free guidance)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps after one warm-up step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="time each module class with forward hooks")
    parser.add_argument("--ops", action="store_true", help="time each LibTorch operator with the profiler")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    return parser.parse_args()


def load_unet(model_dir):
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet", torch_dtype=torch.float32,
                                                use_safetensors=True)
    return unet.eval()


def make_inputs(unet, batch, latent, seed):
    generator = torch.Generator().manual_seed(seed)
    context_dim = unet.config.cross_attention_dim
    if isinstance(context_dim, (list, tuple)):
        context_dim = context_dim[0]
    sample = torch.randn(batch, unet.config.in_channels, latent, latent, generator=generator)
    context = torch.randn(batch, 77, context_dim, generator=generator)
    timestep = torch.tensor(500, dtype=torch.long)
    return sample, timestep, context


def run_step(unet, inputs):
    sample, timestep, context = inputs
    start = time.perf_counter()
    unet(sample, timestep, encoder_hidden_states=context).sample
    return time.perf_counter() - start


def reset_step_peak():
    """Resets the resident high-water mark (VmHWM, and ru_maxrss with it); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def vm_hwm_mib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def max_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ModuleTimer:
    """Forward hooks on every submodule that sum inclusive and self time per class and per top-level block."""

    def __init__(self, unet):
        self.inclusive = defaultdict(float)
        self.self_time = defaultdict(float)
        self.calls = defaultdict(int)
        self.stack = []
        self.handles = []
        top_names = {}
        for name, child in unet.named_children():
            if isinstance(child, torch.nn.ModuleList):
                top_names.update((id(block), f"{name}.{i}") for i, block in child.named_children())
            else:
                top_names[id(child)] = name
        for name, module in unet.named_modules():
            if module is unet:
                continue
            kind = type(module).__name__
            label = f"{kind} ({name.rsplit('.', 1)[-1]})" if kind == "Attention" else kind
            top_label = f"top:{top_names[id(module)]} ({kind})" if id(module) in top_names else None
            self.handles.append(module.register_forward_pre_hook(self.pre_hook(label, top_label)))
            self.handles.append(module.register_forward_hook(self.post_hook()))

    def pre_hook(self, label, top_label):
        def hook(module, args):
            labels = [label, top_label] if top_label and not self.stack else [label]
            self.stack.append([labels, time.perf_counter(), 0.0])
        return hook

    def post_hook(self):
        def hook(module, args, output):
            labels, start, in_children = self.stack.pop()
            elapsed = time.perf_counter() - start
            if self.stack:
                self.stack[-1][2] += elapsed
            for label in labels:
                self.inclusive[label] += elapsed
                self.self_time[label] += elapsed - in_children
                self.calls[label] += 1
        return hook

    def remove(self):
        for handle in self.handles:
            handle.remove()


def profile_steps(unet, inputs, steps):
    timer = ModuleTimer(unet)
    try:
        step_times = [run_step(unet, inputs) for _ in range(steps)]
    finally:
        timer.remove()
    step = sum(step_times) / steps
    rows = []
    for label in timer.inclusive:
        rows.append({"label": label,
                     "calls": timer.calls[label] / steps,
                     "inclusive_s": timer.inclusive[label] / steps,
                     "self_s": timer.self_time[label] / steps})
    return step, rows


def print_table(title, rows, step):
    print(f"\n{title}")
    print(f"  {'module':<44} {'calls':>6} {'inclusive ms':>13} {'%':>6} {'self ms':>10} {'%':>6}")
    for row in rows:
        inclusive, own = row["inclusive_s"], row["self_s"]
        print(f"  {row['label']:<44} {row['calls']:>6g} {inclusive * 1e3:>13.2f} {100 * inclusive / step:>6.1f} "
              f"{own * 1e3:>10.2f} {100 * own / step:>6.1f}")


def report_profile(step, rows):
    top = [dict(row, label=row["label"][4:]) for row in rows if row["label"].startswith("top:")]
    top.sort(key=lambda row: row["inclusive_s"], reverse=True)
    classes = [row for row in rows if not row["label"].startswith("top:")]
    classes.sort(key=lambda row: row["self_s"], reverse=True)
    outside = step - sum(row["inclusive_s"] for row in top)
    print(f"\nprofiled step: {step:.4f} s (with hooks); times are per step, % of the profiled step")
    print_table("top-level blocks of the UNet (sorted by inclusive time)", top, step)
    print(f"  {'(UNet forward outside these blocks)':<44} {'':>6} {outside * 1e3:>13.2f} {100 * outside / step:>6.1f}")
    print_table("module classes (sorted by self time; inclusive times overlap, self times add up to the step "
                "less the UNet's own code above)", classes, step)
    return {"step_s": step, "outside_blocks_s": outside, "top_level": top, "classes": classes}


def profile_operators(unet, inputs, steps):
    """Self and inclusive CPU time per LibTorch operator, per step, sorted by self time."""
    with torch.autograd.profiler.profile() as profiler:
        for _ in range(steps):
            run_step(unet, inputs)
    rows = [{"name": event.key, "calls": event.count / steps, "self_ms": event.self_cpu_time_total / 1e3 / steps,
             "inclusive_ms": event.cpu_time_total / 1e3 / steps} for event in profiler.key_averages()]
    rows.sort(key=lambda row: row["self_ms"], reverse=True)
    total = sum(row["self_ms"] for row in rows)
    print(f"\noperators by self time, per step (self times add up to {total / 1e3:.4f} s)")
    print(f"  {'operator':<40} {'calls':>8} {'self ms':>12} {'%':>7} {'inclusive ms':>14}")
    for row in rows[:25]:
        print(f"  {row['name']:<40} {row['calls']:>8g} {row['self_ms']:>12.2f} {100 * row['self_ms'] / total:>7.1f} "
              f"{row['inclusive_ms']:>14.2f}")
    return rows


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    unet = load_unet(args.model)
    inputs = make_inputs(unet, args.batch, args.latent, args.seed)
    params = sum(p.numel() for p in unet.parameters())
    print(f"UNet2DConditionModel from {args.model}: {params / 1e6:.1f}M parameters; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; input {tuple(inputs[0].shape)}, context {tuple(inputs[2].shape)}")

    with torch.inference_mode():
        warmup = run_step(unet, inputs)
        process_peak = max_rss_mib()
        step_peak_reset = reset_step_peak()
        step_times = [run_step(unet, inputs) for _ in range(args.steps)]
        step_peak = vm_hwm_mib() if step_peak_reset else None
        process_peak = max(process_peak, max_rss_mib(), step_peak or 0)
        median = statistics.median(step_times)
        print(f"warm-up step: {warmup:.4f} s")
        print(f"steps: {', '.join(f'{t:.4f}' for t in step_times)} s")
        print(f"seconds per step (median of {args.steps}): {median:.4f}")
        print(f"peak RSS: {process_peak:.1f} MiB (ru_maxrss: loading, warm-up and steps)"
              + (f"; {step_peak:.1f} MiB over the timed steps (VmHWM)" if step_peak is not None else ""))
        profile = report_profile(*profile_steps(unet, inputs, args.steps)) if args.profile else None
        operators = profile_operators(unet, inputs, args.steps) if args.ops else None

    if args.json:
        result = {"engine": "diffusers", "model": args.model, "latent": args.latent, "batch": args.batch,
                  "threads": torch.get_num_threads(), "torch": torch.__version__, "parameters": params,
                  "warmup_s": warmup, "steps_s": step_times, "seconds_per_step": median,
                  "process_peak_rss_mib": process_peak, "peak_rss_mib": step_peak, "profile": profile,
                  "operators": operators}
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()
