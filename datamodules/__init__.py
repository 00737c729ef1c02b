"""Shared LightningDataModules, the tinyworld generator and the data transforms."""

from datamodules.text import TextCorpusDataModule

__all__ = ["TextCorpusDataModule"]
