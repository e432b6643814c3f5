"""The weekly watch (bevakning): light captures, the profile's elements, change detection, promotion.

Modules: config (config/watch.yaml: schedule, per-account intervals, weights, thresholds), capture
(the light capture: the capture engine's steps on the desktop view and the top of the page, no
print PDF, no WARC), extract (element rules per platform and the generic fallback, noise),
images (dHash, pHash, mean colour, visual similarity with noise masked), compare (per-element
changes, score, classification), run (the Prefect tasks: take, compare, file), promote (the last
watch before an unannounced major change copied into a permanent capture), review (before and
after side by side, the artifacts). The flow is flows/watch.py.
"""
