"""Does image decoding starve an MLLM's training? The DataModule's images per second against the model's.

    python -m benchmarks.perf.vision_throughput [--domain food] [--entities 40] [--batch-size 16] [--steps 8]

Measured in one run, on the same data:

- setup: drawing (or decoding) and transforming every picture once (``ImageTextDataModule.setup``), in
  images per second;
- loading: iterating the train loader (collation of cached tensors and token rows), in images per second;
- training: optimiser steps of a tiny ``DomainMLLM`` (the recipes' test_vit at 48 px and a llama-tiny), in
  images per second.

The loader must outrun the training step by a wide margin (the ratio is printed); setup runs once per fit.
A real folder of JPEGs (``--folder``) measures decoding of files instead of drawing.
"""

from __future__ import annotations

import argparse

import torch

from benchmarks.perf import best_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domain", default="food")
    parser.add_argument("--entities", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--folder", default=None, help="a folder of <class>/*.jpg images to decode instead")
    args = parser.parse_args()

    from datamodules.transforms.visual_instruction_synthesis import RuleTasks
    from datamodules.vision import ImageTextDataModule, evaluation_set, image_transform
    from zoo.modules import DomainMLLM

    def setup():
        data = ImageTextDataModule(source=f"tinyworld:{args.domain}", world={"n_entities": args.entities},
                                   tasks=RuleTasks(), batch_size=args.batch_size)
        data.setup()
        return data

    data = setup()
    setup_seconds = best_of(args.rounds, setup)
    images = len(data.images)
    print(f"{args.domain} picture world, {args.entities} entities: {images} images; {torch.get_num_threads()} threads")
    print(f"  setup (draw + transform, once per fit) {images / setup_seconds:10.0f} images/s")
    if args.folder:
        transform = image_transform(48)
        files = len(evaluation_set(args.folder, split="all")[0])
        seconds = best_of(args.rounds, lambda: [transform(image) for image in evaluation_set(args.folder, split="all")[1].values()])
        print(f"  decode + transform of {files} files     {files / seconds:10.0f} images/s")

    loader = data.train_dataloader()

    def load():
        return sum(batch["pixel_values"].size(0) for batch in loader)

    load_rate = load() / best_of(args.rounds, load)
    torch.manual_seed(0)
    model = DomainMLLM(vision="test_vit", vision_args={"img_size": 48, "patch_size": 12}, lm_net="llama-tiny",
                       tokenizer="tinyworld")
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    batches = [batch for batch, _ in zip(loader, range(args.steps))]

    def train():
        for batch in batches:
            model.training_loss(batch).backward()
            optimizer.step()
            optimizer.zero_grad()

    train_rate = len(batches) * args.batch_size / best_of(args.rounds, train)
    print(f"  train loader                          {load_rate:10.0f} images/s")
    print(f"  training steps (DomainMLLM)           {train_rate:10.0f} images/s")
    print(f"  loader / training: x{load_rate / train_rate:.1f} (above 1: the data does not starve the model)")


if __name__ == "__main__":
    main()
