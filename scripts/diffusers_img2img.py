"""One img2img image with diffusers' StableDiffusionImg2ImgPipeline on the CPU, as `diffmix sd img2img` makes it.

fp32, DPM-Solver++ (2nd order multistep), classifier-free guidance, the same prompt, reference image, strength, steps,
seed and threads as scripts/sd-img2img-memory.sh gives diffmix. Prints one JSON line: the seconds of the pipeline
call, the process's peak resident memory over its whole life (ru_maxrss: loading included, as /usr/bin/time reports
for diffmix) and over the pipeline call alone (VmHWM read, then reset, after loading).

    source REFENV/env.sh
    /usr/bin/python3 scripts/diffusers_img2img.py --model /tmp/diffmix-bench-sd15 --image ref.png --strength 0.5
"""

import argparse
import json
import time

import torch
from PIL import Image
from diffusers import DPMSolverMultistepScheduler, StableDiffusionImg2ImgPipeline
from safetensors.torch import load_file
from transformers import CLIPTextConfig, CLIPTextModel


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="diffusers Stable Diffusion folder")
    parser.add_argument("--image", required=True, help="reference image (PNG)")
    parser.add_argument("--prompt", default="a photo of a bird")
    parser.add_argument("--strength", type=float, default=0.5)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--guidance", type=float, default=7.5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="where to save the image (PNG)")
    return parser.parse_args()


def peak_rss_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    # transformers refuses a safetensors file without {"format": "pt"} metadata, which the benchmark folder's text
    # encoder lacks: it is loaded here and handed to the pipeline.
    text_encoder = CLIPTextModel(CLIPTextConfig.from_pretrained(f"{args.model}/text_encoder"))
    missing, unexpected = text_encoder.load_state_dict(load_file(f"{args.model}/text_encoder/model.safetensors"),
                                                       strict=False)
    if unexpected or set(missing) - {"text_model.embeddings.position_ids"}:
        raise SystemExit(f"text encoder weights do not match: missing {missing}, unexpected {unexpected}")
    pipe = StableDiffusionImg2ImgPipeline.from_pretrained(args.model, text_encoder=text_encoder.eval(),
                                                          torch_dtype=torch.float32, safety_checker=None,
                                                          feature_extractor=None, requires_safety_checker=False)
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(pipe.scheduler.config, algorithm_type="dpmsolver++")
    pipe.set_progress_bar_config(disable=True)
    reference = Image.open(args.image).convert("RGB")
    loading_peak = peak_rss_mib()
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM: the peak of the call alone from here
    start = time.perf_counter()
    with torch.inference_mode():
        image = pipe(prompt=args.prompt, image=reference, strength=args.strength, num_inference_steps=args.steps,
                     guidance_scale=args.guidance, generator=torch.Generator().manual_seed(args.seed)).images[0]
    seconds = time.perf_counter() - start
    if args.out:
        image.save(args.out)
    call_peak = peak_rss_mib()
    print(json.dumps({"seconds": seconds, "peak_rss_mib_call": call_peak,
                      "peak_rss_mib_process": max(loading_peak, call_peak)}))


if __name__ == "__main__":
    main()
