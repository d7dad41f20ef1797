"""Files shipped with Yishi: the CJK font its documents and charts are drawn with."""
