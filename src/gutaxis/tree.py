"""Rooted phylogenies held as flat arrays: :class:`Tree`.

A :class:`Tree` stores one rooted tree as arrays in **postorder** (every node
after all of its descendants, the root last), which is the layout the
phylogenetic diversity kernels (:mod:`gutaxis.diversity.faith_unifrac`) work
on.  In postorder the descendants of node ``v`` occupy the contiguous range
``subtree_start[v] .. v``.

The object is immutable: the arrays are read-only and every operation
(:meth:`Tree.shear`, :meth:`Tree.midpoint_root`) returns a new tree.

Newick
------
:meth:`Tree.from_newick` is an iterative (never recursive) parser with size
limits, so deep or huge inputs are refused or handled without exhausting the
stack.  Its rules:

* single-quoted labels may contain any character; ``''`` inside stands for
  ``'``;  ``[...]`` comments are skipped (not nested);
* underscores in unquoted labels are kept **as is** (scikit-bio turns them
  into spaces by default; feature ids such as ``ASV_1`` would then no longer
  match the table).  Pass ``convert_underscores=True`` for scikit-bio's
  behaviour;
* a missing branch length is stored as ``NaN``.  Like scikit-bio, parsing
  accepts it, a missing length on the root counts as 0, and the phylogenetic
  metrics refuse a tree with a missing length on any other node;
* refused with :class:`~gutaxis.exceptions.FormatError` naming the source and
  the character position: unbalanced parentheses, a malformed, negative,
  infinite or NaN branch length, an unnamed tip, duplicate tip names, a
  missing ``;``, text after the ``;``;
* refused with :class:`~gutaxis.exceptions.UnsafeInputError`: text longer than
  ``max_chars`` or with more than ``max_nodes`` nodes.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from gutaxis.exceptions import FormatError, InputError, NotFoundError, UnsafeInputError

if TYPE_CHECKING:
    import skbio

__all__ = ["Tree", "MAX_NEWICK_CHARS", "MAX_TREE_NODES"]

logger = logging.getLogger(__name__)

#: Default limit on the length of a Newick text (characters).
MAX_NEWICK_CHARS: int = 256 * 2**20
#: Default limit on the number of nodes of a parsed tree.
MAX_TREE_NODES: int = 4_000_000

_TOKEN = re.compile(
    r"""(?P<ws>\s+)
      | (?P<comment>\[[^\]]*\])
      | (?P<quoted>'(?:[^']|'')*')
      | (?P<punct>[(),:;])
      | (?P<word>[^\s(),:;\[\]']+)
      | (?P<bad>.)""",
    re.VERBOSE | re.DOTALL,
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?\Z")
# characters that force a label to be quoted on output (scikit-bio quotes "_" too,
# so that readers which turn underscores into spaces get the label back intact)
_NEEDS_QUOTES = re.compile(r"[\s(),:;\[\]'_]")


def _where(source: str, text: str, pos: int) -> str:
    line = text.count("\n", 0, pos) + 1
    col = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return f"{source}: character {pos + 1} (line {line}, column {col})"


class Tree:
    """A rooted phylogeny stored as flat arrays in postorder.

    Build one with :meth:`from_newick` (:func:`gutaxis.io.read_tree` reads a
    file), :meth:`from_arrays` or :meth:`from_skbio`;
    the constructor is for internal use and trusts its arguments.

    Attributes
    ----------
    n_nodes : int
        Number of nodes (tips and internal nodes, the root included).
    n_tips : int
        Number of tips.
    tip_names : pandas.Index
        Tip names in postorder.
    parent : ndarray of int64
        ``parent[v]`` is the postorder index of the parent of node ``v``
        (``-1`` for the root, which is the last node).
    lengths : ndarray of float64
        Branch length from each node to its parent (``NaN`` where the
        Newick text gave none).
    names : ndarray of object
        Node labels (``None`` for unnamed internal nodes).
    is_tip : ndarray of bool
        Whether each node is a tip.

    Examples
    --------
    >>> t = Tree.from_newick("((A:1,B:2)X:0.5,C:3);")
    >>> t.n_tips, t.n_nodes
    (3, 5)
    >>> list(t.tip_names)
    ['A', 'B', 'C']
    >>> t.missing_tips(["A", "D"])
    ['D']
    >>> t.to_newick()
    '((A:1.0,B:2.0)X:0.5,C:3.0);'
    """

    __slots__ = (
        "_parent", "_length", "_names", "_is_tip", "_tip_nodes", "_tip_names",
        "_child_ptr", "_child_idx", "_subtree_start", "_source", "_provenance", "__weakref__",
    )
    _parent: np.ndarray
    _length: np.ndarray
    _names: np.ndarray
    _is_tip: np.ndarray
    _tip_nodes: np.ndarray
    _tip_names: pd.Index
    _child_ptr: np.ndarray
    _child_idx: np.ndarray
    _subtree_start: np.ndarray
    _source: str
    _provenance: dict[str, Any] | None

    def __init__(self, parent: np.ndarray, lengths: np.ndarray, names: np.ndarray,
                 *, source: str = "<tree>") -> None:
        parent = np.ascontiguousarray(parent, dtype=np.int64)
        lengths = np.ascontiguousarray(lengths, dtype=np.float64)
        names = np.asarray(names, dtype=object)
        n = parent.shape[0]
        if n == 0 or lengths.shape != (n,) or names.shape != (n,):
            raise ValueError("parent, lengths and names must be non-empty and of equal length")
        if parent[-1] != -1 or (n > 1 and not np.all(parent[:-1] > np.arange(n - 1))):
            raise ValueError("arrays must be in postorder: parent[v] > v, root last")
        n_children = np.bincount(parent[:-1], minlength=n)
        is_tip = n_children == 0
        # children in CSR form; a stable sort keeps sibling order
        order = np.argsort(parent[:-1], kind="stable")
        child_ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(n_children, out=child_ptr[1:])
        child_idx = order.astype(np.int64)
        # first node of each subtree (postorder ranges are contiguous)
        start = np.arange(n, dtype=np.int64)
        size = np.ones(n, dtype=np.int64)
        for v in range(n - 1):  # children come before parents
            p = parent[v]
            size[p] += size[v]
            if start[v] < start[p]:
                start[p] = start[v]
        if not np.array_equal(np.arange(n) - start + 1, size):
            raise ValueError("arrays must be in depth-first postorder; use Tree.from_arrays")
        tip_nodes = np.flatnonzero(is_tip).astype(np.int64)
        tip_names = pd.Index(list(names[tip_nodes]), dtype=object, name="tip")
        for arr in (parent, lengths, names, is_tip, tip_nodes, child_ptr, child_idx, start):
            arr.setflags(write=False)
        self._parent = parent
        self._length = lengths
        self._names = names
        self._is_tip = is_tip
        self._tip_nodes = tip_nodes
        self._tip_names = tip_names
        self._child_ptr = child_ptr
        self._child_idx = child_idx
        self._subtree_start = start
        self._provenance = None
        self._source = source

    # ------------------------------------------------------------------ basic
    @property
    def n_nodes(self) -> int:
        """Number of nodes, tips and internal nodes (the root included)."""
        return int(self._parent.shape[0])

    @property
    def n_tips(self) -> int:
        """Number of tips."""
        return int(self._tip_nodes.shape[0])

    @property
    def tip_names(self) -> pd.Index:
        """Tip labels, in postorder (aligned with :attr:`tip_nodes`)."""
        return self._tip_names

    @property
    def parent(self) -> np.ndarray:
        """``parent[v]``: postorder index of the parent of ``v`` (``-1`` for the root)."""
        return self._parent

    @property
    def lengths(self) -> np.ndarray:
        """Branch length from each node to its parent (``NaN`` where none was given)."""
        return self._length

    @property
    def names(self) -> np.ndarray:
        """Node labels (``None`` for unnamed internal nodes)."""
        return self._names

    @property
    def is_tip(self) -> np.ndarray:
        """Whether each node is a tip."""
        return self._is_tip

    @property
    def tip_nodes(self) -> np.ndarray:
        """Postorder indices of the tips (aligned with :attr:`tip_names`)."""
        return self._tip_nodes

    @property
    def subtree_start(self) -> np.ndarray:
        """``subtree_start[v]``: first postorder index of the subtree of ``v``."""
        return self._subtree_start

    @property
    def source(self) -> str:
        """Where the tree came from (a file name or a placeholder such as ``"<newick>"``)."""
        return self._source

    @property
    def provenance(self) -> dict[str, Any] | None:
        """The read record of the file the tree came from (format, path, sha256), or None."""
        return None if self._provenance is None else dict(self._provenance)

    def with_provenance(self, record: dict[str, Any]) -> Tree:
        """Return the same tree carrying the read record of its file.

        Parameters
        ----------
        record : dict
            ``{"step": "read", "format", "path", "sha256", "bytes"}`` as the
            readers of :mod:`gutaxis.io` write it.

        Returns
        -------
        Tree
            A new object sharing the (read-only) arrays.
        """
        out = Tree.__new__(Tree)
        for slot in Tree.__slots__:
            if slot != "__weakref__":
                object.__setattr__(out, slot, getattr(self, slot))
        out._provenance = dict(record)
        return out

    @property
    def has_all_lengths(self) -> bool:
        """Whether every node but the root has a branch length."""
        return bool(not np.isnan(self._length[:-1]).any())

    def children(self, node: int) -> np.ndarray:
        """Postorder indices of the children of ``node``, in sibling order."""
        return self._child_idx[self._child_ptr[node]:self._child_ptr[node + 1]]

    @property
    def root_children(self) -> int:
        """Number of children of the root (2 for a bifurcating root)."""
        return int(self._child_ptr[-1] - self._child_ptr[-2])

    def __repr__(self) -> str:
        """Return a one-line summary: tips, nodes and source."""
        return f"Tree({self.n_tips} tips, {self.n_nodes} nodes; source={self._source!r})"

    def __len__(self) -> int:
        """Return the number of nodes."""
        return self.n_nodes

    # ------------------------------------------------------------- lookups
    def missing_tips(self, names: Iterable[Any]) -> list[str]:
        """Return the ``names`` that are not tip names of this tree, in their order."""
        wanted = pd.Index([str(n) for n in names], dtype=object)
        if len(wanted) == 0:
            return []
        pos = self._tip_names.get_indexer(wanted)
        return [str(n) for n in wanted[pos < 0]]

    def tip_positions(self, names: Iterable[Any]) -> np.ndarray:
        """Postorder node indices of the tips called ``names``.

        Raises
        ------
        NotFoundError
            Some names are not tips of the tree.
        """
        wanted = pd.Index([str(n) for n in names], dtype=object)
        pos = self._tip_names.get_indexer(wanted)
        if (pos < 0).any():
            raise NotFoundError("feature id", [str(n) for n in wanted[pos < 0]],
                                f"the tips of {self._source}")
        return self._tip_nodes[pos]

    def tip_depths(self) -> pd.Series:
        """Distance from each tip to the root, root branch length included.

        Missing lengths count as 0.  This is the per-tip distance scikit-bio
        uses to normalize weighted UniFrac.
        """
        depth = self._node_depths()
        return pd.Series(depth[self._tip_nodes], index=self._tip_names, name="depth")

    def _node_depths(self) -> np.ndarray:
        lengths = np.nan_to_num(self._length, nan=0.0)
        depth: np.ndarray = lengths.copy()
        parent = self._parent
        for v in range(self.n_nodes - 2, -1, -1):  # reverse postorder = parents first
            depth[v] += depth[parent[v]]
        return depth

    # ------------------------------------------------------------- parsing
    @classmethod
    def from_newick(cls, text: str, *, source: str = "<newick>",
                    max_chars: int = MAX_NEWICK_CHARS, max_nodes: int = MAX_TREE_NODES,
                    convert_underscores: bool = False) -> Tree:
        """Parse one rooted tree from Newick text.

        Parameters
        ----------
        text : str
            The Newick text (one tree, ended by ``;``).
        source : str
            Name used in error messages (a path, ``"table.qza:tree.nwk"``...).
        max_chars, max_nodes : int
            Safety limits; larger inputs raise :class:`UnsafeInputError`.
        convert_underscores : bool
            Turn ``_`` in unquoted labels into spaces (scikit-bio's default;
            off here so that ids such as ``ASV_1`` are kept).

        Returns
        -------
        Tree

        Raises
        ------
        InputError
            ``text`` is not a str (bytes, None...).
        FormatError
            Malformed text; the message names ``source`` and the character
            position.
        UnsafeInputError
            The text exceeds ``max_chars`` or ``max_nodes``.
        """
        if not isinstance(text, str):
            hint = (" (decode it first: data.decode('utf-8'))" if isinstance(text, bytes)
                    else " (read a tree file with gutaxis.io.read_tree)")
            raise InputError(f"{source}: Newick text must be str; got "
                             f"{type(text).__name__}{hint}")
        if len(text) > max_chars:
            raise UnsafeInputError(
                f"{source}: the Newick text is {len(text):,} characters long, more than the "
                f"limit of {max_chars:,}; raise max_chars if this tree is expected"
            )
        estimate = text.count("(") + text.count(",") + 1
        if estimate > max_nodes:
            raise UnsafeInputError(
                f"{source}: the Newick text describes about {estimate:,} nodes, more than the "
                f"limit of {max_nodes:,}; raise max_nodes if this tree is expected"
            )
        return _parse_newick(cls, text, source, max_nodes, convert_underscores)

    @classmethod
    def from_arrays(cls, parent: Sequence[int] | np.ndarray, lengths: Sequence[float] | np.ndarray,
                    names: Sequence[str | None] | np.ndarray, *, source: str = "<arrays>") -> Tree:
        """Build a tree from a parent-index array in any node order.

        Parameters
        ----------
        parent : sequence of int
            ``parent[v]`` is the index of the parent of node ``v``; exactly
            one node (the root) has ``-1``.
        lengths : sequence of float
            Branch length of each node (``NaN`` for none).
        names : sequence of str or None
            Node labels; every tip must be named, tip names unique.
        source : str
            Name used in error messages.

        Returns
        -------
        Tree
            Nodes renumbered in depth-first postorder; the children of a
            node keep the order of their indices.
        """
        par = np.asarray(parent, dtype=np.int64)
        n = len(par)
        len_arr = np.asarray(lengths, dtype=np.float64)
        name_arr = np.empty(n, dtype=object)
        name_arr[:] = list(names)
        if len_arr.shape != (n,) or n == 0:
            raise ValueError("parent, lengths and names must be non-empty and of equal length")
        roots = np.flatnonzero(par < 0)
        if len(roots) != 1 or (par >= n).any():
            raise FormatError(f"{source}: a tree needs exactly one root (parent -1); "
                              f"found {len(roots)}")
        kids = np.bincount(par[par >= 0], minlength=n)
        ptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(kids, out=ptr[1:])
        nonroot = np.flatnonzero(par >= 0)
        idx = nonroot[np.argsort(par[nonroot], kind="stable")]
        order: list[int] = []
        stack: list[tuple[int, bool]] = [(int(roots[0]), False)]
        while stack:
            v, done = stack.pop()
            if done:
                order.append(v)
                continue
            stack.append((v, True))
            for k in range(ptr[v + 1] - 1, ptr[v] - 1, -1):
                stack.append((int(idx[k]), False))
        if len(order) != n:
            raise FormatError(f"{source}: the parent array contains a cycle or unreachable nodes")
        order_arr = np.asarray(order, dtype=np.int64)
        new_index = np.empty(n, dtype=np.int64)
        new_index[order_arr] = np.arange(n)
        new_parent = np.where(par[order_arr] >= 0, new_index[np.maximum(par[order_arr], 0)], -1)
        _check_arrays(new_parent, len_arr[order_arr], name_arr[order_arr], source)
        return cls(new_parent, len_arr[order_arr], name_arr[order_arr], source=source)

    # ------------------------------------------------------------- writing
    def to_newick(self) -> str:
        """Return the tree as one line of Newick text, ended by ``;``.

        Labels containing whitespace, ``()[]:;,'`` or ``_`` are single-quoted
        (as scikit-bio does), lengths are written with Python's shortest
        round-trip repr, missing lengths are left out.
        """
        out: list[str] = []
        ptr, idx = self._child_ptr, self._child_idx
        # stack of (node, state): state 0 = enter, 1 = exit
        stack: list[tuple[int, int]] = [(self.n_nodes - 1, 0)]
        while stack:
            node, state = stack.pop()
            if state == 0:
                a, b = ptr[node], ptr[node + 1]
                if a == b:
                    out.append(self._label(node))
                else:
                    out.append("(")
                    stack.append((node, 1))
                    kids = idx[a:b]
                    for k in range(len(kids) - 1, -1, -1):
                        stack.append((int(kids[k]), 0))
                        if k > 0:
                            stack.append((-1, 2))  # comma marker
            elif state == 1:
                out.append(")")
                out.append(self._label(node))
            else:
                out.append(",")
        out.append(";")
        return "".join(out)

    def _label(self, node: int) -> str:
        name = self._names[node]
        s = ""
        if name is not None and name != "":
            s = str(name)
            if _NEEDS_QUOTES.search(s):
                s = "'" + s.replace("'", "''") + "'"
        length = self._length[node]
        if not math.isnan(length):
            s += ":" + repr(float(length))
        return s

    # ------------------------------------------------------------ scikit-bio
    @classmethod
    def from_skbio(cls, treenode: skbio.TreeNode, *, source: str = "<skbio>") -> Tree:
        """Convert a :class:`skbio.TreeNode` (taken as the root).

        Raises
        ------
        FormatError
            Unnamed or duplicate tips, negative or non-finite lengths.
        """
        nodes = list(treenode.postorder(include_self=True))
        index = {id(n): i for i, n in enumerate(nodes)}
        n = len(nodes)
        parent = np.empty(n, dtype=np.int64)
        lengths = np.empty(n, dtype=np.float64)
        names = np.empty(n, dtype=object)
        top = id(treenode)
        for i, node in enumerate(nodes):
            parent[i] = -1 if id(node) == top else index[id(node.parent)]
            lengths[i] = np.nan if node.length is None else float(node.length)
            names[i] = None if node.name is None else str(node.name)
        _check_arrays(parent, lengths, names, source)
        return cls(parent, lengths, names, source=source)

    def to_skbio(self) -> skbio.TreeNode:
        """Return the tree as a :class:`skbio.TreeNode` (missing lengths become ``None``)."""
        from skbio import TreeNode

        made = [
            TreeNode(name=self._names[v],
                     length=None if math.isnan(self._length[v]) else float(self._length[v]))
            for v in range(self.n_nodes)
        ]
        for v in range(self.n_nodes):
            kids = self.children(v)
            if len(kids):
                made[v].extend([made[int(k)] for k in kids], uncache=False)
        return made[-1]

    # ------------------------------------------------------------ transforms
    def shear(self, names: Iterable[Any]) -> Tree:
        """Return the subtree spanning the tips ``names``, single-child nodes merged.

        Follows scikit-bio's ``TreeNode.shear(names)`` (which prunes): tips
        not in ``names`` and the internal nodes left without tips are
        removed; a node left with one child is merged into that child, the
        two branch lengths being added.  When the root is left with one child
        the root takes over that child's children and name and adds its
        length to its own, so that the path from the remaining tips to the
        original root is kept as the root's branch length.  Unlike
        scikit-bio, a merged child keeps its place among its siblings.

        The phylogenetic diversity metrics give the same values on the full
        tree and on the tree sheared to the table's features (the removed
        branches have zero abundance in every sample and merged branches
        carry identical abundances), so shearing is optional.

        Raises
        ------
        NotFoundError
            Some names are not tips of the tree.
        """
        keep_tips = self.tip_positions(list(names))
        n = self.n_nodes
        root = n - 1
        parent = self._parent
        marked = np.zeros(n, dtype=bool)
        for t in keep_tips:
            v = int(t)
            while v >= 0 and not marked[v]:
                marked[v] = True
                v = int(parent[v])
        kept_children = np.bincount(parent[:-1][marked[:-1]], minlength=n)
        unary = marked & (kept_children == 1)
        unary[root] = False
        keep = marked & ~unary
        lengths = self._length.copy()
        names_arr = self._names.copy()
        anc = np.full(n, -1, dtype=np.int64)  # nearest kept ancestor
        carry = np.full(n, np.nan)  # length carried down through merged nodes
        for v in range(n - 2, -1, -1):  # preorder: parents before children
            if not marked[v]:
                continue
            p = int(parent[v])
            if unary[p]:
                anc[v], up = anc[p], carry[p]
            else:
                anc[v], up = p, np.nan
            if unary[v]:
                carry[v] = _add_lengths(lengths[v], up)
            else:
                lengths[v] = _add_lengths(lengths[v], up)
        # a root left with a single child absorbs it (as scikit-bio's prune does)
        root_kids = np.flatnonzero(keep & (anc == root))
        if len(root_kids) == 1:
            d = int(root_kids[0])
            lengths[root] = _add_lengths(lengths[root], lengths[d])
            names_arr[root] = names_arr[d]
            anc[keep & (anc == d)] = root
            keep[d] = False
        kept = np.flatnonzero(keep)
        new_index = np.full(n, -1, dtype=np.int64)
        new_index[kept] = np.arange(len(kept))
        new_parent = new_index[anc[kept]]
        new_parent[-1] = -1
        return Tree(new_parent, lengths[kept], names_arr[kept], source=self._source)

    def midpoint_root(self) -> Tree:
        """Return the tree rerooted at the midpoint of its longest tip-to-tip path.

        Follows scikit-bio's ``TreeNode.root_at_midpoint()`` (as used by
        QIIME 2's ``phylogeny midpoint-root``): the current root is removed
        first when it has two children (their branches are joined) or one
        child; the two tips farthest apart are found; the new root is put on
        the path between them at half their distance (on an existing node if
        the midpoint falls exactly on one, otherwise on a new node splitting
        that branch).  The new root has no branch length.  Missing lengths
        count as 0.  A tree whose tips are all at distance 0 is returned
        unrooted at its original root.
        """
        n = self.n_nodes
        if n <= 2:
            return self
        lengths = np.nan_to_num(self._length, nan=0.0)
        names = list(self._names)
        # --- undirected adjacency (edge weights = branch lengths)
        adj: list[list[tuple[int, float]]] = [[] for _ in range(n)]
        parent = self._parent
        root = n - 1
        for v in range(n - 1):
            p = int(parent[v])
            adj[p].append((v, float(lengths[v])))
            adj[v].append((p, float(lengths[v])))
        # remove a root of degree 1 or 2 (as unroot() does)
        alive = np.ones(n, dtype=bool)
        if len(adj[root]) == 2:
            (a, la), (b, lb) = adj[root]
            adj[a] = [(b, la + lb) if x == root else (x, w) for x, w in adj[a]]
            adj[b] = [(a, la + lb) if x == root else (x, w) for x, w in adj[b]]
            alive[root] = False
            adj[root] = []
        elif len(adj[root]) == 1:
            (a, _la), = adj[root]
            adj[a] = [(x, w) for x, w in adj[a] if x != root]
            alive[root] = False
            adj[root] = []
        tips = [v for v in range(n) if alive[v] and len(adj[v]) <= 1]
        if len(tips) < 2:
            return self

        def farthest(start: int) -> tuple[np.ndarray, np.ndarray]:
            dist = np.full(n, -1.0)
            prev = np.full(n, -1, dtype=np.int64)
            dist[start] = 0.0
            stack = [start]
            while stack:
                u = stack.pop()
                for x, w in adj[u]:
                    if dist[x] < 0:
                        dist[x] = dist[u] + w
                        prev[x] = u
                        stack.append(x)
            return dist, prev

        tip_arr = np.array(tips)
        d0, _ = farthest(tips[0])
        a = int(tip_arr[np.argmax(d0[tip_arr])])
        da, prev = farthest(a)
        b = int(tip_arr[np.argmax(da[tip_arr])])
        total = float(da[b])
        if total == 0.0:
            return self
        half = total / 2.0
        # path from b back to a; distances from a increase along a <- ... <- b
        path = [b]
        while path[-1] != a:
            path.append(int(prev[path[-1]]))
        path.reverse()  # a ... b
        new_root = -1
        split: tuple[int, int, float] | None = None
        for k in range(1, len(path)):
            u, v = path[k - 1], path[k]
            if da[v] == half:
                new_root = v
                break
            if da[v] > half:
                split = (u, v, half - da[u])
                break
        if split is not None:
            u, v, off = split
            w = da[v] - da[u]
            new_root = len(adj)
            adj.append([(u, off), (v, w - off)])
            names.append(None)
            adj[u] = [(new_root, off) if x == v else (x, ww) for x, ww in adj[u]]
            adj[v] = [(new_root, w - off) if x == u else (x, ww) for x, ww in adj[v]]
        return self._rebuild(adj, new_root, names)

    def _rebuild(self, adj: list[list[tuple[int, float]]], root: int, names: list[Any]) -> Tree:
        """Build a Tree from an undirected adjacency, rooted at ``root``."""
        order: list[int] = []
        par: dict[int, int] = {root: -1}
        blen: dict[int, float] = {root: math.nan}
        stack: list[tuple[int, int]] = [(root, 0)]
        while stack:
            u, state = stack.pop()
            if state == 0:
                stack.append((u, 1))
                kids = [(x, w) for x, w in adj[u] if x != par[u]]
                for x, w in reversed(kids):
                    par[x] = u
                    blen[x] = w
                    stack.append((x, 0))
            else:
                order.append(u)
        index = {u: i for i, u in enumerate(order)}
        new_parent = np.array([index[par[u]] if par[u] >= 0 else -1 for u in order],
                              dtype=np.int64)
        new_lengths = np.array([blen[u] for u in order], dtype=np.float64)
        new_names = np.array([names[u] for u in order], dtype=object)
        return Tree(new_parent, new_lengths, new_names, source=self._source)


def _add_lengths(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a + b


def _check_arrays(parent: np.ndarray, lengths: np.ndarray, names: np.ndarray,
                  source: str, positions: Sequence[int] | None = None,
                  text: str | None = None) -> None:
    n = len(parent)
    is_tip = np.bincount(parent[:-1], minlength=n) == 0 if n > 1 else np.ones(1, dtype=bool)

    def at(v: int) -> str:
        if positions is not None and text is not None:
            return _where(source, text, positions[v])
        return f"{source}: node {v}"

    tip_nodes = np.flatnonzero(is_tip)
    for v in tip_nodes:
        if names[v] is None or names[v] == "":
            raise FormatError(f"{at(int(v))}: a tip has no name")
    bad = np.flatnonzero(~np.isnan(lengths) & ~np.isfinite(lengths))
    if len(bad):
        raise FormatError(f"{at(int(bad[0]))}: branch length {lengths[bad[0]]!r} is not finite")
    neg = np.flatnonzero(lengths < 0)
    if len(neg):
        raise FormatError(
            f"{at(int(neg[0]))}: negative branch length {lengths[neg[0]]!r} "
            f"(on {names[neg[0]] or 'an internal node'!s}); branch lengths must be ≥ 0"
        )
    tip_names = pd.Index(list(names[tip_nodes]), dtype=object)
    if tip_names.has_duplicates:
        dup_mask = tip_names.duplicated()
        first = int(tip_nodes[np.flatnonzero(dup_mask)[0]])
        dupes = tip_names[dup_mask].unique().tolist()
        raise FormatError(
            f"{at(first)}: tip names must be unique; duplicated: "
            + ", ".join(map(repr, dupes[:10]))
            + (f" (and {len(dupes) - 10} more)" if len(dupes) > 10 else "")
        )


# states of the Newick parser
_START, _EXPECT_NODE, _AFTER_CLOSE, _AFTER_LABEL, _EXPECT_LENGTH, _AFTER_LENGTH, _DONE = range(7)


def _parse_newick(cls: type[Tree], text: str, source: str, max_nodes: int,
                  convert_underscores: bool) -> Tree:
    parents: list[int] = []
    names: list[str | None] = []
    lengths: list[float] = []
    positions: list[int] = []
    post: list[int] = []
    stack: list[int] = []
    cur = -1
    state = _START

    def fail(pos: int, what: str) -> FormatError:
        return FormatError(f"{_where(source, text, pos)}: {what}")

    def new_node(pos: int) -> int:
        if len(parents) >= max_nodes:
            raise UnsafeInputError(
                f"{source}: the tree has more than {max_nodes:,} nodes; raise max_nodes if "
                "this tree is expected"
            )
        parents.append(stack[-1] if stack else -1)
        names.append(None)
        lengths.append(math.nan)
        positions.append(pos)
        return len(parents) - 1

    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        pos = m.start()
        tok = m.group()
        if state == _DONE:
            raise fail(pos, f"unexpected {tok[:20]!r} after the ';' that ends the tree "
                            "(one tree per text)")
        if kind == "bad":
            if tok == "'":
                raise fail(pos, "unterminated quoted label (a ' is never closed)")
            if tok == "[":
                raise fail(pos, "unterminated comment (a [ is never closed)")
            raise fail(pos, f"unexpected {tok!r}")
        if kind == "punct":
            if tok == "(":
                if state not in (_START, _EXPECT_NODE):
                    raise fail(pos, "unexpected '(' (a ',' or ')' is missing before it)")
                stack.append(new_node(pos))
                state = _EXPECT_NODE
            elif tok == ",":
                if state in (_START, _EXPECT_NODE):
                    raise fail(pos, "a tip has no name (empty node before ',')")
                if state == _EXPECT_LENGTH:
                    raise fail(pos, "missing branch length after ':'")
                if not stack:
                    raise fail(pos, "',' outside any parentheses")
                post.append(cur)
                state = _EXPECT_NODE
            elif tok == ")":
                if state in (_START, _EXPECT_NODE):
                    raise fail(pos, "a tip has no name (empty node before ')')")
                if state == _EXPECT_LENGTH:
                    raise fail(pos, "missing branch length after ':'")
                if not stack:
                    raise fail(pos, "unbalanced parentheses: this ')' has no matching '('")
                post.append(cur)
                cur = stack.pop()
                state = _AFTER_CLOSE
            elif tok == ":":
                if state in (_START, _EXPECT_NODE):
                    raise fail(pos, "a tip has no name (':' with no label before it)")
                if state not in (_AFTER_CLOSE, _AFTER_LABEL):
                    raise fail(pos, "unexpected ':'")
                state = _EXPECT_LENGTH
            else:  # ";"
                if stack:
                    open_pos = positions[stack[-1]]
                    raise fail(open_pos, f"unbalanced parentheses: this '(' is never closed "
                                         f"({len(stack)} unclosed) before the ';' at character "
                                         f"{pos + 1}")
                if state in (_START, _EXPECT_NODE):
                    raise fail(pos, "empty tree")
                if state == _EXPECT_LENGTH:
                    raise fail(pos, "missing branch length after ':'")
                post.append(cur)
                state = _DONE
            continue
        # a label or a number
        if kind == "quoted":
            label = tok[1:-1].replace("''", "'")
        else:
            label = tok.replace("_", " ") if convert_underscores else tok
        if state == _EXPECT_LENGTH:
            if kind != "word" or not _NUMBER.match(tok):
                raise fail(pos, f"bad branch length {tok[:30]!r} (expected a number)")
            value = float(tok)
            if not math.isfinite(value):
                raise fail(pos, f"branch length {tok!r} is not finite")
            if value < 0:
                raise fail(pos, f"negative branch length {tok!r}; branch lengths must be ≥ 0")
            lengths[cur] = value
            state = _AFTER_LENGTH
        elif state in (_START, _EXPECT_NODE):
            cur = new_node(pos)
            names[cur] = label
            state = _AFTER_LABEL
        elif state == _AFTER_CLOSE:
            names[cur] = label
            state = _AFTER_LABEL
        elif state == _AFTER_LABEL:
            raise fail(pos, f"unexpected {tok[:30]!r}: a label cannot contain spaces unless "
                            "quoted ('like this'), and a ':' must come before a length")
        else:
            raise fail(pos, f"unexpected {tok[:30]!r} after a branch length")
    if state != _DONE:
        if stack:
            raise fail(positions[stack[-1]], f"unbalanced parentheses: this '(' is never closed "
                                             f"({len(stack)} unclosed at the end of the text)")
        if not parents:
            raise FormatError(f"{source}: empty Newick text")
        raise fail(len(text), "the tree does not end with ';'")
    # closing order = postorder
    order = np.asarray(post, dtype=np.int64)
    n = len(order)
    new_index = np.empty(n, dtype=np.int64)
    new_index[order] = np.arange(n)
    par_old = np.asarray(parents, dtype=np.int64)[order]
    parent = np.where(par_old >= 0, new_index[np.maximum(par_old, 0)], -1)
    length_arr = np.asarray(lengths, dtype=np.float64)[order]
    name_arr = np.empty(n, dtype=object)
    name_arr[:] = [names[i] for i in order]
    pos_arr = [positions[i] for i in order]
    _check_arrays(parent, length_arr, name_arr, source, pos_arr, text)
    return cls(parent, length_arr, name_arr, source=source)
