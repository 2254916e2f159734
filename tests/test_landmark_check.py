"""Landmark plausibility: a landmark moved where the head's shape cannot put it is named."""

from __future__ import annotations

import numpy as np

from visualizer.head import Head
from visualizer.landmark_check import LANDMARK_FAR, NASION_ON_NOSE, RIM_ABOVE_BROW, check_landmarks


def moved(head: Head, name: str, head_frame_point) -> Head:
    return head.with_landmarks({name: head.frame.from_head(np.asarray(head_frame_point, float))})


def test_default_landmarks_are_plausible(head: Head) -> None:
    assert check_landmarks(head, head) == []


def test_small_moves_are_accepted(head: Head) -> None:
    p = head.frame.to_head(head.landmarks["left_zygomatic_arch"]) + np.array([0, 0, 8])
    assert check_landmarks(moved(head, "left_zygomatic_arch", p), head) == []


def test_nasion_on_the_nose_tip(head: Head) -> None:
    tip = head.snap(head.frame.from_head([0, 140, -35]))[0]
    h = head.with_landmarks({"nasion": tip})
    f = check_landmarks(h, head)
    codes = {x.code for x in f}
    assert NASION_ON_NOSE in codes or LANDMARK_FAR in codes
    assert all(x.severity == "warning" for x in f)
    assert {x.landmarks for x in f} == {("nasion",)}, f
    # the plain words come from the landmark registry
    assert any("nasion" in x.message and "the deepest point of the nose bridge" in x.message for x in f)


def test_orbital_rim_above_the_brow(head: Head) -> None:
    rim = head.frame.to_head(head.landmarks["right_orbital_rim"]) + np.array([0, -4, 14])
    f = check_landmarks(moved(head, "right_orbital_rim", rim), head)
    assert [x.code for x in f] == [RIM_ABOVE_BROW] and f[0].landmarks == ("right_orbital_rim",)
    assert "right orbital rim" in f[0].message and "_" not in f[0].message


def test_far_landmark_is_named_and_others_are_not(head: Head) -> None:
    # the left tragus put on the cheek, ~45 mm forward
    p = head.frame.to_head(head.landmarks["left_tragus"]) + np.array([5, 45, 0])
    f = check_landmarks(moved(head, "left_tragus", p), head)
    assert [x.landmarks for x in f if x.code == LANDMARK_FAR] == [("left_tragus",)], f
    assert "left tragus" in f[0].message


def test_works_against_a_scaled_rotated_copy(head: Head) -> None:
    # a reference given as a mapping in another pose and size: a similarity fit absorbs it
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    ref = {k: 1.1 * rot @ v + [5.0, -3.0, 2.0] for k, v in head.landmarks.items()}
    assert check_landmarks(head, ref) == []
