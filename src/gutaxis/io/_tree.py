"""Rooted trees: Newick files and ``Phylogeny[Rooted]`` artifacts."""

from __future__ import annotations

from pathlib import Path

from gutaxis.checks import check_type
from gutaxis.io._common import PathLike
from gutaxis.io._qza import text_or_artifact
from gutaxis.outputs import write_text
from gutaxis.tree import Tree

__all__ = ["read_tree", "write_tree"]


def read_tree(path: PathLike, *, convert_underscores: bool = False) -> Tree:
    """Read a rooted tree from a Newick file or a ``Phylogeny[Rooted]`` ``.qza``.

    Parameters
    ----------
    path : str or path-like
    convert_underscores : bool, default False
        Turn ``_`` in unquoted labels into spaces, as scikit-bio does; the
        default keeps them, so that ids such as ``ASV_1`` match the table.

    Returns
    -------
    Tree
        :attr:`~gutaxis.tree.Tree.provenance` is the read record (format,
        path, sha256, bytes).

    Raises
    ------
    FormatError
        Malformed Newick (the message names the character position), not
        UTF-8, or a ``.qza`` of another type.
    UnsafeInputError
        Over the size limits.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.nwk"
    >>> _ = p.write_text("((A:1,B:2):0.5,C:3);")
    >>> t = read_tree(p)
    >>> t.n_tips, t.provenance["format"]
    (3, 'newick')
    """
    text, label, record = text_or_artifact(path, artifact_type="Phylogeny[Rooted]",
                                           member="data/tree.nwk", fmt="newick",
                                           what="the tree file")
    tree = Tree.from_newick(text, source=label, convert_underscores=convert_underscores)
    return tree.with_provenance(record)


def write_tree(tree: Tree, path: PathLike) -> Path:
    """Write a tree as Newick (one line, UTF-8), whole or not at all.

    Parameters
    ----------
    tree : Tree
    path : str or path-like

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        ``tree`` is not a Tree, or ``path`` not a path.
    OutputError
        The file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "t.nwk"
    >>> _ = write_tree(Tree.from_newick("((A:1,B:2):0.5,C:3);"), p)
    >>> p.read_text().strip()
    '((A:1.0,B:2.0):0.5,C:3.0);'
    """
    check_type(tree, Tree, "tree")
    return write_text(path, tree.to_newick() + "\n")
