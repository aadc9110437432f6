"""Files to face sets: folders, images, data sets, the embedding store, caches and exports.

The first layer after the base: it imports only ``errors``, ``paths``, ``i18n``, ``assets``
and ``facedash.faces.types``. It never runs a model.
"""
