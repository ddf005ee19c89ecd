"""Sparse coding: the dictionary neurons (``neurons``: LCA, linear, ReLU, divisive, all
with the same weights) and dictionary learning (``learning``: ``train_lca``,
``lca_statistics``)."""

from geomlib._src.lca.learning import init_dictionary, lca_statistics, train_lca
from geomlib._src.lca.neurons import (
    DICTIONARY_MODELS,
    Model,
    dictionary_neuron,
    dictionary_phi,
    divisive_normalization_neuron,
    lca_energy,
    lca_neuron,
    mei_axis,
    neuron_weights,
)

__all__ = [
    "DICTIONARY_MODELS", "Model", "dictionary_neuron", "dictionary_phi", "divisive_normalization_neuron",
    "init_dictionary", "lca_energy", "lca_neuron", "lca_statistics", "mei_axis", "neuron_weights", "train_lca",
]
