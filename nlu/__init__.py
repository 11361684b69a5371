"""Chinese NLU pieces: text normalisation, jieba segmentation and the spaCy
rule pipeline built from the knowledge file, plus their Rasa components."""
