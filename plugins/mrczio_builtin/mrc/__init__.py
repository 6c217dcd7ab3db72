"""The MRC family: plain MRC2014 and MRCZ (one compressed chunk per frame).

One package, read top to bottom:

- :mod:`.modes` and :mod:`.packed4bit` — the pixel modes (MODE word), including
  SerialEM/IMOD 4-bit packing and IMOD's older mode-0 4-bit files;
- :mod:`.footer` — the metadata footer after the data;
- :mod:`.layout` — a file's header, extended header and metadata, checked against its
  size, before any pixel is read;
- :mod:`.chunk_index` — where every frame's chunk of an MRCZ file starts;
- :mod:`.reader_base`, :mod:`.plain`, :mod:`.compressed` — the readers and the two
  formats (``mrc`` and ``mrcz``);
- :mod:`.header_policy` — the header mrczio writes, and which header fields of another
  file a new file carries over;
- :mod:`.pipeline` — parallel frame compression; :mod:`.writer` — the streaming writer;
  :mod:`.append` — adding frames to an existing file;
- :mod:`.validation` — the MRC2014 checks behind ``mrczio validate``.

Nothing here imports mrczio's other built-in plugins, and core never imports this
package: it is registered through the ``mrczio`` entry-point group.
"""
